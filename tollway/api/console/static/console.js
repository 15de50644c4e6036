// The console's shared parts: the key form (the key lives in sessionStorage, so it leaves with
// the tab), fetching the role's own API with it, drawing with createElement and textContent
// only (never innerHTML: every value shown comes from the network), and refreshing.
"use strict";

const Console = (() => {
  const REFRESH_MS = 5000;

  class ApiError extends Error {}

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function text(value) {
    return value === null || value === undefined || value === "" ? "–" : String(value);
  }

  /** A table: `columns` are [title, row => value or Node, "num" for a number column]. */
  function table(columns, rows, emptyText) {
    if (!rows.length) return el("p", { class: "empty" }, emptyText || "none");
    const head = el("tr", {}, ...columns.map(([title]) => el("th", {}, title)));
    const body = rows.map((row) =>
      el(
        "tr",
        {},
        ...columns.map(([, value, kind]) => {
          const shown = value(row);
          return el("td", { class: kind || null }, shown instanceof Node ? shown : text(shown));
        }),
      ),
    );
    return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
  }

  /** Key and value pairs as a definition list. */
  function pairs(entries) {
    const list = el("dl");
    for (const [name, value] of entries) {
      list.append(el("dt", {}, name), el("dd", {}, value instanceof Node ? value : text(value)));
    }
    return list;
  }

  /** A state as a badge; `look` picks its colour when it is not the state's own name. */
  function state(value, look) {
    return el("span", { class: `state ${look || value || ""}` }, text(value));
  }

  const FOUR_DIGITS = new Intl.NumberFormat("en", { maximumSignificantDigits: 4 });

  /** An amount of wei in ETH, gwei or wei, whichever reads best; the exact wei on hover.
   * `token` names an 18-decimal token other than ETH (LPT). Big numbers may come as strings:
   * a JSON number loses digits beyond 2^53. */
  function eth(wei, token) {
    if (wei === null || wei === undefined) return "–";
    const exact = typeof wei === "string" ? BigInt(wei) : BigInt(Math.trunc(Number(wei)));
    const size = Math.abs(Number(exact));
    const shown =
      size >= 1e14 || (token && size > 0)
        ? `${FOUR_DIGITS.format(Number(exact) / 1e18)} ${token || "ETH"}`
        : size >= 1e6
          ? `${FOUR_DIGITS.format(Number(exact) / 1e9)} gwei`
          : `${exact} wei`;
    return el("span", { title: `${exact} wei` }, shown);
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "–";
  }

  /** A workflow id, linked into the Temporal UI when the role knows where that is. */
  function workflow(config, workflowId, label) {
    if (!workflowId) return "–";
    const shown = el("code", {}, label || workflowId);
    if (!config.temporal_ui_url) return shown;
    const base = config.temporal_ui_url.replace(/\/+$/, "");
    const href =
      `${base}/namespaces/${encodeURIComponent(config.namespace)}` +
      `/workflows/${encodeURIComponent(workflowId)}`;
    return el("a", { href, target: "_blank", rel: "noopener", class: "workflow" }, shown);
  }

  /** Starts the page: `sections` are {id, title, load(api, config) => Node}. */
  function start({ role, authorization, sections }) {
    const storageKey = `tollway-console-${role}-key`;
    const form = document.getElementById("key-form");
    const input = document.getElementById("key");
    const status = document.getElementById("status");
    const main = document.querySelector("main");
    let timer = null;
    let config = null;
    let generation = 0; // a new key starts a new refresh loop; the old one stops

    const boxes = sections.map((section) => {
      const body = el("div", { class: "body" });
      const box = el("section", { id: section.id, class: section.wide ? "wide" : null });
      box.append(el("h2", {}, section.title), body);
      main.append(box);
      return { section, body };
    });

    function say(message, isError) {
      status.textContent = message;
      status.className = isError ? "error" : "";
    }

    async function api(path) {
      const key = sessionStorage.getItem(storageKey);
      let answer;
      try {
        answer = await fetch(path, {
          headers: { Authorization: authorization(key), Accept: "application/json" },
          cache: "no-store",
        });
      } catch (error) {
        throw new ApiError(`cannot reach the ${role} (network error: ${error.message})`);
      }
      if (answer.status === 401) throw new ApiError(`key refused (401) on ${path}`);
      if (answer.status === 403) throw new ApiError(`the key may not read ${path} (403)`);
      if (!answer.ok) {
        let detail = answer.statusText;
        try {
          detail = (await answer.json()).detail || detail;
        } catch (ignored) {
          // not a problem document: the status line says enough
        }
        throw new ApiError(`${path} answered ${answer.status}: ${detail}`);
      }
      return answer.json();
    }

    function again(mine) {
      if (mine === generation) timer = setTimeout(() => refresh(mine), REFRESH_MS);
    }

    async function refresh(mine) {
      timer = null;
      if (!sessionStorage.getItem(storageKey)) {
        say("Enter the key to load the console.", false);
        return;
      }
      const failures = [];
      try {
        config = config || (await api("/console/config.json"));
      } catch (error) {
        say(error.message, true);
        again(mine);
        return;
      }
      await Promise.all(
        boxes.map(async ({ section, body }) => {
          try {
            body.replaceChildren(await section.load(api, config));
          } catch (error) {
            failures.push(error.message);
            body.replaceChildren(el("p", { class: "error" }, error.message));
          }
        }),
      );
      if (mine !== generation) return;
      const at = new Date().toLocaleTimeString();
      if (failures.length) say(`${failures[0]} (at ${at})`, true);
      else say(`Updated ${at}; refreshing every ${REFRESH_MS / 1000} s.`, false);
      again(mine);
    }

    function restart() {
      if (timer !== null) clearTimeout(timer);
      generation += 1;
      refresh(generation);
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (key) sessionStorage.setItem(storageKey, key);
      input.value = "";
      restart();
    });
    document.getElementById("forget").addEventListener("click", () => {
      sessionStorage.removeItem(storageKey);
      for (const { body } of boxes) body.replaceChildren();
      restart();
    });
    restart();
  }

  return { el, eth, pairs, start, state, table, text, when, workflow };
})();
