// The gateway's console: the market it sees, the key's tenant's recent jobs and streams (each
// linked to its workflow in the Temporal UI), and its usage and budgets.
"use strict";

(() => {
  const { el, eth, pairs, state, table, when, workflow } = Console;

  function seconds(unixSeconds) {
    return unixSeconds ? new Date(unixSeconds * 1000).toLocaleString() : "–";
  }

  async function marketplace(api) {
    const market = await api("/v1/marketplace");
    const offers = Object.entries(market.capabilities).flatMap(([name, { offers }]) =>
      offers.map((offer) => ({ name, ...offer })),
    );
    return el(
      "div",
      {},
      el("h3", {}, "Orchestrators"),
      table(
        [
          ["URL", (o) => el("code", {}, o.url)],
          ["address", (o) => o.address],
          ["found by", (o) => o.sources.join(", ")],
          ["info", (o) => (o.info_error ? el("span", { class: "error" }, o.info_error) : "ok")],
        ],
        market.orchestrators,
        "no orchestrator known yet",
      ),
      el("h3", {}, "Offers"),
      table(
        [
          ["capability", (o) => o.name],
          ["orchestrator", (o) => el("code", {}, o.orchestrator)],
          ["price", (o) => eth(o.price_wei)],
          ["per", (o) => o.unit],
          ["USD", (o) => (o.price_usd === null ? null : o.price_usd.toPrecision(3)), "num"],
          ["free / capacity", (o) => `${o.available} / ${o.capacity}`, "num"],
          ["latency ms", (o) => o.latency_ms && Math.round(o.latency_ms), "num"],
          ["success", (o) => o.success_rate, "num"],
          ["jobs seen", (o) => o.jobs_observed, "num"],
          ["suspended s", (o) => o.suspended_for_seconds || null, "num"],
          ["region", (o) => o.region],
        ],
        offers,
        "no capability on offer",
      ),
      el("p", { class: "empty" }, `market as of ${seconds(market.snapshot_at)}`),
    );
  }

  async function jobs(api, config) {
    const page = await api("/v1/jobs?limit=20");
    return table(
      [
        ["job", (j) => workflow(config, j.id)],
        ["capability", (j) => j.capability],
        ["state", (j) => state(j.state)],
        ["orchestrator", (j) => j.orchestrator],
        ["billed", (j) => (j.units === null ? null : `${j.units} ${j.unit}`), "num"],
        ["cost", (j) => eth(j.cost_wei)],
        ["created", (j) => when(j.created_at)],
        ["error", (j) => j.error],
      ],
      page.data,
      "no job yet",
    );
  }

  async function streams(api, config) {
    const list = await api("/v1/streams?limit=20");
    return table(
      [
        ["stream", (s) => workflow(config, s.workflow_id, s.stream_id)],
        ["capability", (s) => s.capability],
        ["state", (s) => state(s.state)],
        ["orchestrator", (s) => s.orchestrator],
        ["started", (s) => when(s.started_at)],
        ["ended", (s) => when(s.closed_at)],
      ],
      list.data,
      "no stream yet",
    );
  }

  async function usage(api) {
    const [rows, budgets] = await Promise.all([
      api("/v1/usage?group_by=capability"),
      api("/v1/budgets"),
    ]);
    const total = rows.reduce((sum, row) => sum + BigInt(row.cost_wei), 0n);
    const jobCount = rows.reduce((sum, row) => sum + row.jobs, 0);
    return el(
      "div",
      {},
      pairs([
        ["finished jobs, 30 days", jobCount],
        ["spent, 30 days", eth(total.toString())],
      ]),
      el("h3", {}, "By capability"),
      table(
        [
          ["capability", (r) => r.capability],
          ["jobs", (r) => r.jobs, "num"],
          ["units", (r) => Object.entries(r.units).map(([u, n]) => `${n} ${u}`).join(", ")],
          ["cost", (r) => eth(r.cost_wei)],
          ["USD", (r) => (r.cost_usd === null ? null : r.cost_usd.toFixed(4)), "num"],
        ],
        rows,
        "no finished job in 30 days",
      ),
      el("h3", {}, "Budgets"),
      table(
        [
          ["budget", (b) => b.id],
          ["key", (b) => b.key_id || "whole tenant"],
          ["period", (b) => b.period],
          ["limit", (b) => `${b.amount} ${b.currency}`],
          ["spent", (b) => eth(b.spent_wei)],
          ["resets", (b) => when(b.resets_at)],
        ],
        budgets,
        "no budget set",
      ),
    );
  }

  Console.start({
    role: "gateway",
    authorization: (key) => `Bearer ${key}`,
    sections: [
      { id: "jobs", title: "Recent jobs", load: jobs, wide: true },
      { id: "streams", title: "Recent streams", load: streams, wide: true },
      { id: "marketplace", title: "Marketplace", load: marketplace, wide: true },
      { id: "usage", title: "Usage and spend", load: usage, wide: true },
    ],
  });
})();
