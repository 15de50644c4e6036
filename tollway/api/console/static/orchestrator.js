// The orchestrator's console: who it is on-chain, its capabilities and their replicas, the GPU
// workers that report, each sender's credit, and the redemption of winning tickets.
"use strict";

(() => {
  const { el, eth, pairs, state, table, text, workflow } = Console;

  /** BondingManager's cuts are parts per million (its PERC_DIVISOR). */
  function partsPerMillion(value) {
    return `${value / 1e4} %`;
  }

  async function identity(api) {
    const [chain, info] = await Promise.all([api("/v1/orchestrator"), api("/v1/info")]);
    const t = chain.transcoder;
    return pairs([
      ["address", el("code", {}, chain.address)],
      ["service address", el("code", {}, chain.service_addr)],
      ["version", info.version],
      ["region", info.region],
      ["round", chain.round],
      ["registered, active", `${t.registered ? "yes" : "no"}, ${t.active ? "yes" : "no"}`],
      ["total stake", eth(t.total_stake, "LPT")],
      ["active stake", eth(t.active_stake, "LPT")],
      ["reward cut", partsPerMillion(t.reward_cut)],
      ["fee share", partsPerMillion(t.fee_share)],
      ["last reward round", t.last_reward_round],
      ["rewards so far", eth(t.cumulative_rewards, "LPT")],
      ["fees so far", eth(t.cumulative_fees)],
      ["pending fees", eth(chain.pending_fees_wei)],
    ]);
  }

  async function capabilities(api) {
    const listing = await api("/v1/capabilities");
    return table(
      [
        ["capability", (c) => c.name],
        ["price", (c) => eth(c.price_wei)],
        ["per", (c) => c.unit],
        ["free / capacity", (c) => `${c.available_capacity} / ${c.capacity}`, "num"],
        ["replicas", (c) => c.replicas, "num"],
      ],
      listing.capabilities,
      "no capability registered",
    );
  }

  async function replicas(api, config) {
    const listing = await api("/v1/replicas");
    const rows = Object.entries(listing.replicas).flatMap(([name, list]) =>
      list.map((replica) => ({ name, ...replica })),
    );
    return table(
      [
        ["capability", (r) => r.name],
        ["replica", (r) => workflow(config, r.replica)],
        ["URL", (r) => el("code", {}, r.url)],
        ["in flight / capacity", (r) => `${r.in_flight} / ${r.capacity}`, "num"],
        ["idle s", (r) => r.idle_seconds, "num"],
      ],
      rows,
      "no replica registered",
    );
  }

  async function workers(api) {
    const listing = await api("/v1/workers");
    const gpus = (worker) =>
      worker.inventory.gpus.length
        ? worker.inventory.gpus
            .map((g) => `${g.index}: ${g.name} (${Math.round(g.memory_total_bytes / 2 ** 20)} MiB)`)
            .join("; ")
        : `none: ${worker.inventory.cpu_only_reason || "CPU only"}`;
    return el(
      "div",
      {},
      table(
        [
          ["worker", (w) => w.worker_id],
          ["task queue", (w) => el("code", {}, w.task_queue)],
          ["GPUs", gpus],
          ["reports every s", (w) => w.report_every_seconds, "num"],
        ],
        listing.workers,
        "no GPU worker reports",
      ),
      listing.settled ? null : el("p", { class: "empty" }, "still listening for workers"),
    );
  }

  async function credit(api) {
    const listing = await api("/v1/credit");
    return table(
      [
        ["sender", (c) => el("code", {}, c.sender)],
        ["capability", (c) => c.capability],
        ["credit", (c) => eth(c.balance_wei)],
        ["held by running jobs", (c) => eth(c.held_wei)],
        ["paid in all", (c) => eth(c.received_wei)],
      ],
      listing.credit,
      "no sender has paid yet",
    );
  }

  async function redemptions(api, config) {
    const status = await api("/v1/redemptions");
    const tickets = [
      ...status.queued.map((ticket) => ({ ticket, outcome: "queued", detail: "" })),
      ...(status.pending || []).map((ticket) => ({ ticket, outcome: "pending", detail: "" })),
      ...Object.entries(status.redeemed).map(([ticket, tx]) => ({
        ticket,
        outcome: "redeemed",
        detail: tx,
      })),
      ...Object.entries(status.failed).map(([ticket, why]) => ({
        ticket,
        outcome: "failed",
        detail: why,
      })),
    ];
    const id = config.workflows.redemption;
    return el(
      "div",
      {},
      pairs([
        ["recipient", el("code", {}, status.recipient)],
        ["workflow", id ? workflow(config, id) : null],
        ["redeemed", Object.keys(status.redeemed).length],
        ["queued", status.queued.length],
        ["failed", Object.keys(status.failed).length],
      ]),
      el("h3", {}, "Winning tickets"),
      table(
        [
          ["ticket", (t) => el("code", {}, t.ticket)],
          ["outcome", (t) => state(t.outcome, t.outcome === "redeemed" ? "ok" : null)],
          ["transaction or reason", (t) => el("code", {}, text(t.detail))],
        ],
        tickets,
        "no winning ticket yet",
      ),
    );
  }

  Console.start({
    role: "orchestrator",
    // go-livepeer's way: the orchestrator's secret as it is, no `Bearer`.
    authorization: (key) => key,
    sections: [
      { id: "identity", title: "Orchestrator", load: identity },
      { id: "capabilities", title: "Capabilities", load: capabilities },
      { id: "replicas", title: "Replicas", load: replicas, wide: true },
      { id: "workers", title: "GPU workers", load: workers, wide: true },
      { id: "credit", title: "Credit by sender", load: credit, wide: true },
      { id: "redemptions", title: "Redemptions", load: redemptions, wide: true },
    ],
  });
})();
