// The saga console's page: plain DOM, no framework, no build step. Each
// section is a function that renders into <main> and returns its clean-up
// (timers, sockets). Everything shown comes from the console's /api/, called
// with the token the user signed in with (kept in sessionStorage only).
// Text is always set through textContent: nothing from the APIs is parsed as HTML.

const TOKEN_KEY = "saga-console-token";
const main = document.getElementById("main");
let me = null;
let cleanup = () => {};

// ---- small helpers -------------------------------------------------------------------------

/** An element: h("td", { class: "x", "data-id": 1 }, "text", child, …). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    // Through CSSOM: the page's CSP refuses style attributes.
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, opts = {}) {
  const res = await fetch(`/api${path}`, {
    method: opts.method ?? "GET",
    headers: {
      Authorization: `Bearer ${token()}`,
      ...(opts.body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.status === 401) {
    signOut("Your token was refused (expired or invalid): sign in again.");
    throw new ApiError(401, "signed out");
  }
  if (!res.ok) {
    throw new ApiError(res.status, body?.error?.message ?? `HTTP ${res.status}`);
  }
  return body;
}

function shortId(id) {
  return String(id).slice(0, 8);
}

function age(from, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(from)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}

function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

function ms(us) {
  const v = us / 1000;
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(v >= 10 ? 1 : 2)} ms`;
}

function badge(text, kind = String(text).toLowerCase()) {
  return h("span", { class: `badge badge-${kind.replace(/[^a-z0-9-]/g, "-")}` }, text);
}

function statusLine(el, text, kind = "info") {
  el.textContent = text;
  el.className = `status status-${kind}`;
}

function errorBox(err) {
  return h("p", { class: "status status-error", role: "alert" }, `Could not load: ${err.message}`);
}

/** Runs fn now and every `everyMs`; returns the stop function. */
function every(everyMs, fn) {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) console.warn(err);
    }
    if (!stopped) timer = setTimeout(tick, everyMs);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function setTitle(text) {
  document.title = `${text} · Saga console`;
}

function heading(text) {
  setTitle(text);
  return h("h1", { tabindex: "-1" }, text);
}

// ---- sign-in -------------------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  renderSignIn(message);
}

function renderSignIn(message) {
  cleanup();
  cleanup = () => {};
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  setTitle("Sign in");
  const input = h("textarea", {
    id: "token",
    name: "token",
    rows: "4",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "token-help",
  });
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (e) => {
        e.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim().replace(/^Bearer\s+/i, ""));
        await start();
      },
    },
    h("h1", { tabindex: "-1" }, "Sign in"),
    message ? h("p", { class: "status status-error", role: "alert" }, message) : null,
    h("label", { for: "token" }, "Bearer token"),
    input,
    h(
      "p",
      { id: "token-help", class: "help" },
      "The same JWT the APIs take. An administrator sees every order and the operations " +
        "sections; a user sees only their own orders. Make one with ",
      h("code", {}, "./dev deno run -A kit/http/token.ts ops admin"),
      ".",
    ),
    h("button", { type: "submit" }, "Sign in"),
  );
  main.replaceChildren(form);
  input.focus();
}

// ---- orders --------------------------------------------------------------------------------

const STATUSES = ["PENDING", "COMPENSATING", "COMPLETED", "CANCELLED"];

function ordersView(params) {
  const admin = me.roles.includes("admin");
  const filters = {
    status: params.get("status") ?? "",
    user: params.get("user") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
  };
  const live = h("span", { class: "live", id: "live", role: "status" }, "connecting…");
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const tbody = h("tbody");
  const field = (label, input) =>
    h("div", { class: "field" }, h("label", { for: input.id }, label), input);
  const status = h(
    "select",
    { id: "f-status", name: "status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)),
  );
  const user = h("input", { id: "f-user", name: "user", value: filters.user, size: "14" });
  const from = h("input", {
    id: "f-from",
    name: "from",
    type: "datetime-local",
    value: filters.from,
  });
  const to = h("input", { id: "f-to", name: "to", type: "datetime-local", value: filters.to });
  const form = h(
    "form",
    {
      class: "filters",
      "aria-label": "Filter orders",
      onsubmit: (e) => {
        e.preventDefault();
        const p = new URLSearchParams();
        if (status.value) p.set("status", status.value);
        if (admin && user.value.trim()) p.set("user", user.value.trim());
        if (from.value) p.set("from", from.value);
        if (to.value) p.set("to", to.value);
        const q = p.toString();
        location.hash = `#/orders${q ? `?${q}` : ""}`;
      },
    },
    field("Status", status),
    admin ? field("User", user) : null,
    field("Created from", from),
    field("Created before", to),
    h("button", { type: "submit" }, "Apply"),
    h("a", { href: "#/orders", class: "button-link" }, "Clear"),
  );
  main.replaceChildren(
    h("div", { class: "title-row" }, heading("Orders"), live),
    form,
    count,
    h(
      "table",
      { class: "orders", id: "orders" },
      h("caption", { class: "sr-only" }, "Orders, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Order"),
          admin ? h("th", { scope: "col" }, "User") : null,
          h("th", { scope: "col" }, "Status"),
          h("th", { scope: "col" }, "Mode"),
          h("th", { scope: "col", class: "num" }, "Age"),
          h("th", { scope: "col" }, "Reason"),
        ),
      ),
      tbody,
    ),
  );

  let rows = [];
  const query = () => {
    const p = new URLSearchParams({ limit: "100" });
    if (filters.status) p.set("status", filters.status);
    if (admin && filters.user) p.set("user", filters.user);
    if (filters.from) p.set("from", new Date(filters.from).toISOString());
    if (filters.to) p.set("to", new Date(filters.to).toISOString());
    return p.toString();
  };
  const draw = () => {
    const now = Date.now();
    tbody.replaceChildren(
      ...rows.map((o) =>
        h(
          "tr",
          { "data-order-id": o.orderId, "data-status": o.status },
          h(
            "td",
            {},
            h("a", { href: `#/orders/${o.orderId}`, title: o.orderId }, shortId(o.orderId)),
          ),
          admin ? h("td", { class: "wrap" }, o.userId) : null,
          h("td", {}, badge(o.status)),
          h("td", {}, o.mode),
          h("td", { class: "num", "data-created": o.createdAt }, age(o.createdAt, now)),
          h("td", { class: "wrap" }, o.reason ?? ""),
        )
      ),
    );
    count.textContent = rows.length === 0
      ? "No orders match."
      : `${rows.length} order${rows.length === 1 ? "" : "s"}${
        rows.length >= 100 ? " (newest 100)" : ""
      }`;
  };
  const load = async () => {
    try {
      rows = (await api(`/orders?${query()}`)).orders;
      draw();
    } catch (err) {
      if (err.status !== 401) count.replaceChildren(errorBox(err));
    }
  };
  load();

  // Live: every status change reloads the list (coalesced), ages tick every second.
  let pending = 0;
  const changed = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = 0;
      load();
    }, 250);
  };
  let ws = null;
  let retry = 0;
  let closed = false;
  const connect = () => {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    // The token goes as a subprotocol beside "bearer", never in the URL (URLs are
    // recorded: server spans, proxies' logs); the server answers "bearer" alone.
    ws = new WebSocket(`${proto}://${location.host}/api/orders/ws`, ["bearer", token()]);
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "connected") {
        live.textContent = "live";
        live.className = "live live-on";
        load(); // anything missed while connecting
        return;
      }
      const row = rows.find((o) => o.orderId === msg.orderId);
      if (row) {
        row.status = msg.status;
        row.reason = msg.reason ?? row.reason;
        draw();
      }
      changed();
    };
    ws.onclose = (e) => {
      if (closed) return;
      // 4401: the token expired while the socket was open.
      if (e.code === 4401) return signOut("Your token expired: sign in again.");
      live.textContent = "reconnecting…";
      live.className = "live live-off";
      retry = setTimeout(connect, 2_000);
    };
  };
  connect();
  const ticker = setInterval(() => {
    const now = Date.now();
    for (const td of tbody.querySelectorAll("td[data-created]")) {
      td.textContent = age(td.dataset.created, now);
    }
  }, 1_000);
  return () => {
    closed = true;
    clearTimeout(retry);
    clearTimeout(pending);
    clearInterval(ticker);
    ws?.close();
  };
}

// ---- one saga ------------------------------------------------------------------------------

const KIND_LABEL = {
  placed: "placed",
  started: "mode",
  request: "request",
  reply: "reply",
  failure: "failed",
  compensation: "undo request",
  compensated: "undone",
  deadline: "deadline",
  outcome: "outcome",
};

function sagaView(orderId) {
  const head = h("div", { class: "saga-head" });
  const steps = h("div");
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const traceBox = h("div", { id: "trace" });
  const eventsBox = h("div");
  const msg = h("p", { role: "status", class: "muted" }, "Loading…");
  main.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: "#/orders" }, "← Orders")),
    heading(`Order ${shortId(orderId)}`),
    msg,
    head,
    h(
      "div",
      { class: "saga-grid" },
      h("section", { "aria-labelledby": "h-steps" }, h("h2", { id: "h-steps" }, "Steps"), steps),
      h(
        "section",
        { "aria-labelledby": "h-timeline" },
        h("h2", { id: "h-timeline" }, "Timeline"),
        timeline,
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "h-trace" },
      h("h2", { id: "h-trace" }, "Trace"),
      traceBox,
    ),
    h(
      "section",
      { "aria-labelledby": "h-events" },
      h("h2", { id: "h-events" }, "Events the order wrote"),
      eventsBox,
    ),
  );

  let final = false;
  let finishedAt = 0;
  const drawOrder = (data) => {
    const o = data.order;
    final = o.status === "COMPLETED" || o.status === "CANCELLED";
    if (final && !finishedAt) finishedAt = Date.now();
    msg.textContent = "";
    const took = o.finishedAt ? Date.parse(o.finishedAt) - Date.parse(o.createdAt) : null;
    head.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        h("div", {}, h("dt", {}, "Order"), h("dd", { class: "wrap" }, h("code", {}, o.orderId))),
        h("div", {}, h("dt", {}, "Status"), h("dd", { id: "saga-status" }, badge(o.status))),
        h("div", {}, h("dt", {}, "Mode"), h("dd", {}, o.mode)),
        h("div", {}, h("dt", {}, "User"), h("dd", { class: "wrap" }, o.userId)),
        h("div", {}, h("dt", {}, "Placed"), h("dd", {}, time(o.createdAt))),
        h("div", {}, h("dt", {}, "Took"), h("dd", {}, took === null ? "running…" : `${took} ms`)),
        o.reason
          ? h(
            "div",
            { class: "span2" },
            h("dt", {}, "Why cancelled"),
            h("dd", { class: "wrap" }, o.reason),
          )
          : null,
        h(
          "div",
          { class: "span2" },
          h("dt", {}, "Lines"),
          h(
            "dd",
            { class: "wrap" },
            o.items.map((i) => `${i.quantity} × ${i.productId}`).join(", ") +
              (o.couponId ? ` · coupon ${o.couponId}` : "") +
              (o.points ? ` · ${o.points} points` : ""),
          ),
        ),
      ),
    );
    steps.replaceChildren(
      h(
        "table",
        { class: "steps" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Step", "Service", "State", "Reason"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        h(
          "tbody",
          {},
          o.steps.map((s) =>
            h(
              "tr",
              { "data-step": s.step },
              h("td", {}, s.step),
              h("td", {}, serviceOfStep(s.step)),
              h("td", {}, badge(s.state)),
              h("td", { class: "wrap" }, s.reason ?? ""),
            )
          ),
        ),
      ),
    );
    timeline.replaceChildren(
      ...data.timeline.map((r) =>
        h(
          "li",
          { class: `tl tl-${r.kind}`, "data-kind": r.kind, "data-steps": r.steps.join(" ") },
          h("span", { class: "tl-at", title: time(r.at) }, `+${r.offsetMs} ms`),
          h(
            "div",
            { class: "tl-body" },
            h(
              "p",
              { class: "tl-what" },
              badge(KIND_LABEL[r.kind] ?? r.kind, r.kind),
              " ",
              h("strong", {}, r.note),
            ),
            h(
              "p",
              { class: "tl-who" },
              r.to.length > 0 ? `${r.from} → ${r.to.join(", ")}` : `from ${r.from}`,
              r.events.length > 0 ? " · " : "",
              r.events.map((e, i) => [
                i > 0 ? ", " : "",
                h(
                  "code",
                  { title: e.id ? `event ${e.id}${e.topic ? ` on ${e.topic}` : ""}` : "" },
                  e.type,
                ),
                e.id ? h("span", { class: "muted" }, ` ${shortId(e.id)}`) : "",
              ]),
            ),
            r.reason ? h("p", { class: "tl-reason" }, `why: ${r.reason}`) : null,
          ),
        )
      ),
    );
    eventsBox.replaceChildren(
      data.events.length === 0
        ? h("p", { class: "muted" }, "None stored (the event store keeps 7 days).")
        : h(
          "table",
          { class: "events" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["When", "Event", "Topic", "Key", "Event id"].map((t) =>
                h("th", { scope: "col" }, t)
              ),
            ),
          ),
          h(
            "tbody",
            {},
            data.events.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, `+${Date.parse(e.at) - Date.parse(o.createdAt)} ms`),
                h("td", {}, e.type),
                h("td", {}, e.topic),
                h("td", { class: "wrap" }, e.key),
                h("td", { class: "wrap" }, h("code", {}, e.eventId)),
              )
            ),
          ),
        ),
    );
  };

  let lastSpanCount = -1;
  let stableTraceLoads = 0;
  const drawTrace = (t) => {
    const children = [];
    if (t.traceId) {
      const copied = h("span", { role: "status", class: "muted" });
      children.push(
        h(
          "p",
          { class: "trace-id" },
          "Trace id ",
          h("code", { id: "trace-id" }, t.traceId),
          " ",
          h("button", {
            type: "button",
            class: "small",
            onclick: async () => {
              try {
                await navigator.clipboard.writeText(t.traceId);
                copied.textContent = "copied";
              } catch {
                getSelection()?.selectAllChildren(document.getElementById("trace-id"));
                copied.textContent = "selected: press Ctrl+C";
              }
            },
          }, "Copy"),
          " ",
          copied,
        ),
      );
    }
    if (!t.waterfall) {
      children.push(h("p", { class: "muted" }, t.note ?? "No trace."));
      traceBox.replaceChildren(...children);
      return;
    }
    const w = t.waterfall;
    const total = Math.max(w.durationUs, 1);
    children.push(
      h(
        "ul",
        { class: "legend", "aria-label": "Processes in this trace" },
        w.processes.map((p) =>
          h(
            "li",
            { "data-service": p.service },
            h("span", { class: `swatch svc-${svcClass(p.service)}` }),
            `${p.service}: ${p.spans} span${p.spans === 1 ? "" : "s"}`,
            p.errors ? h("strong", { class: "err" }, ` · ${p.errors} failed`) : "",
          )
        ),
      ),
      h(
        "p",
        { class: "muted" },
        `${w.spans.length} spans over ${ms(w.durationUs)}, from ${time(w.startedAt)}`,
      ),
      h(
        "table",
        { class: "waterfall", id: "waterfall" },
        h("caption", { class: "sr-only" }, "Spans in start order, indented by parent"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Span"),
            h(
              "th",
              { scope: "col" },
              h(
                "span",
                { class: "axis" },
                h("span", {}, "0"),
                h("span", {}, `Timing · ${ms(w.durationUs / 2)}`),
                h("span", {}, ms(w.durationUs)),
              ),
            ),
            h("th", { scope: "col", class: "num" }, "Duration"),
          ),
        ),
        h(
          "tbody",
          {},
          w.spans.map((s) => {
            const left = (s.offsetUs / total) * 100;
            const width = Math.max((s.durationUs / total) * 100, 0.4);
            const attrs = Object.entries(s.attributes).map(([k, v]) => `${k}=${v}`).join("\n");
            return h(
              "tr",
              { class: s.error ? "span-error" : "", "data-service": s.service },
              h(
                "th",
                {
                  scope: "row",
                  class: "span-name",
                  style: { paddingLeft: `${0.4 + s.depth * 0.9}rem` },
                },
                h("span", { class: `svc svc-${svcClass(s.service)}` }, s.service),
                " ",
                h("span", { title: attrs || s.name }, s.name),
                s.error ? h("span", { class: "err" }, ` ✖ ${s.errorText ?? "error"}`) : "",
              ),
              h(
                "td",
                { class: "bar-cell" },
                h("span", {
                  class: `bar svc-${svcClass(s.service)}${s.error ? " bar-error" : ""}`,
                  style: {
                    marginLeft: `${Math.min(left, 99.6).toFixed(2)}%`,
                    width: `${Math.min(width, 100 - Math.min(left, 99.6)).toFixed(2)}%`,
                  },
                  title: `starts at +${ms(s.offsetUs)}, lasts ${ms(s.durationUs)}`,
                }),
              ),
              h("td", { class: "num" }, ms(s.durationUs)),
            );
          }),
        ),
      ),
    );
    traceBox.replaceChildren(...children);
  };

  const loadOrder = async () => {
    try {
      drawOrder(await api(`/orders/${orderId}`));
    } catch (err) {
      if (err.status !== 401) msg.replaceChildren(errorBox(err));
      throw err;
    }
  };
  const loadTrace = async () => {
    try {
      const t = await api(`/orders/${orderId}/trace`);
      const n = t.waterfall?.spans.length ?? 0;
      stableTraceLoads = n === lastSpanCount ? stableTraceLoads + 1 : 0;
      lastSpanCount = n;
      drawTrace(t);
    } catch (err) {
      if (err.status !== 401) traceBox.replaceChildren(errorBox(err));
    }
  };
  // While the saga runs (and a little after: spans reach Jaeger in batches),
  // both are reloaded; then they stay as they are until the page is reloaded.
  const stopOrder = every(1_500, async () => {
    if (final && Date.now() - finishedAt > 3_000) return;
    await loadOrder();
  });
  const stopTrace = every(2_500, async () => {
    if (final && Date.now() - finishedAt > 30_000 && stableTraceLoads >= 3) return;
    await loadTrace();
  });
  return () => {
    stopOrder();
    stopTrace();
  };
}

function serviceOfStep(step) {
  const kind = step.split(":")[0];
  return { stock: "inventory", coupon: "coupon", point: "point" }[kind] ?? "order";
}

function svcClass(service) {
  const s = String(service).toLowerCase();
  for (const k of ["order", "relay", "inventory", "coupon", "point", "deadletter", "console"]) {
    if (s.includes(k)) return k;
  }
  return "other";
}

// ---- dead letters --------------------------------------------------------------------------

function deadLettersView(params) {
  const status = params.get("status") ?? "PENDING";
  const result = h("p", { id: "dl-result", role: "status", class: "status" });
  const summary = h("p", { class: "muted" });
  const tbody = h("tbody");
  const statusSelect = h(
    "select",
    {
      id: "dl-status",
      onchange: (e) => (location.hash = `#/dead-letters?status=${e.target.value}`),
    },
    ["PENDING", "NON_RETRYABLE", "REPLAYED", "RESOLVED"].map((s) =>
      h("option", { value: s, selected: s === status }, s)
    ),
  );
  const replayAll = h("button", {
    type: "button",
    id: "replay-all",
    onclick: async () => {
      replayAll.disabled = true;
      statusLine(result, "Replaying every retryable dead letter…");
      try {
        const r = await api("/admin/dead-letters/replay", { method: "POST" });
        statusLine(
          result,
          `Replayed ${r.replayed} dead letter${r.replayed === 1 ? "" : "s"}${
            r.ids?.length ? ` (${r.ids.join(", ")})` : ""
          }.`,
          "ok",
        );
      } catch (err) {
        statusLine(result, `Replay failed: ${err.message}`, "error");
      } finally {
        replayAll.disabled = false;
        load();
      }
    },
  }, "Replay all retryable");
  main.replaceChildren(
    heading("Dead letters"),
    h(
      "div",
      { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "dl-status" }, "Status"), statusSelect),
      replayAll,
    ),
    result,
    summary,
    h(
      "table",
      { class: "dead-letters", id: "dead-letters" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Id", "Status", "Topic · event", "Consumer", "Reason", "Attempts", "Last failure", ""]
            .map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      tbody,
    ),
  );
  const replayOne = async (d, button) => {
    button.disabled = true;
    statusLine(result, `Replaying dead letter ${d.id}…`);
    try {
      const r = await api(`/admin/dead-letters/${d.id}/replay`, { method: "POST" });
      statusLine(result, `Dead letter ${d.id} replayed: now ${r.status}.`, "ok");
    } catch (err) {
      statusLine(result, `Dead letter ${d.id} was not replayed: ${err.message}`, "error");
      button.disabled = false;
    }
    load();
  };
  const load = async () => {
    try {
      const r = await api(`/admin/dead-letters?status=${status}&limit=100`);
      const by = r.stats?.byStatus ?? {};
      summary.textContent = Object.keys(by).length
        ? `By status: ${Object.entries(by).map(([k, v]) => `${k} ${v}`).join(", ")}.`
        : "";
      tbody.replaceChildren(
        ...(r.items.length === 0
          ? [h("tr", {}, h("td", { colspan: "8", class: "muted" }, `No ${status} dead letters.`))]
          : r.items.map((d) => {
            const button = h("button", {
              type: "button",
              class: "small",
              "aria-label": `Replay dead letter ${d.id}`,
              disabled: d.status === "RESOLVED" || d.source === "relay",
            }, "Replay");
            button.addEventListener("click", () => replayOne(d, button));
            return h(
              "tr",
              { "data-dead-letter-id": d.id },
              h("td", {}, d.id),
              h(
                "td",
                {},
                badge(d.status),
                d.retryable ? "" : h("span", { class: "muted" }, " final"),
              ),
              h(
                "td",
                { class: "wrap" },
                d.originalTopic ?? "—",
                h("br"),
                h("code", {}, d.eventType ?? "?"),
                d.eventId ? h("span", { class: "muted" }, ` ${shortId(d.eventId)}`) : "",
              ),
              h("td", { class: "wrap" }, d.consumer ?? d.source ?? ""),
              h(
                "td",
                { class: "wrap" },
                h("strong", {}, d.reason ?? ""),
                d.detail ? h("br") : "",
                d.detail ?? "",
                d.errorMessage ? h("span", { class: "muted" }, ` — ${d.errorMessage}`) : "",
              ),
              h(
                "td",
                { class: "num", title: `${d.failures ?? 0} failures, ${d.replays ?? 0} replays` },
                `${d.attempts ?? "?"}`,
                h("span", { class: "muted" }, ` · ${d.replays ?? 0} replayed`),
              ),
              h("td", {}, time(d.lastFailureAt ?? d.receivedAt)),
              h("td", {}, button),
            );
          })),
      );
    } catch (err) {
      if (err.status !== 401) {
        tbody.replaceChildren(h("tr", {}, h("td", { colspan: "8" }, errorBox(err))));
      }
    }
  };
  return every(3_000, load);
}

// ---- campaigns -----------------------------------------------------------------------------

function campaignsView() {
  const tbody = h("tbody");
  const note = h("p", { class: "muted", role: "status" });
  main.replaceChildren(
    heading("Coupon campaigns"),
    note,
    h(
      "table",
      { class: "campaigns", id: "campaigns" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [
            ["Campaign", ""],
            ["Window", ""],
            ["Granted", "num"],
            ["Issued", "num"],
            ["Total", "num"],
            ["Remaining", "num"],
            ["Progress", ""],
            ["Sold out at", ""],
          ].map(([t, cls]) => h("th", { scope: "col", class: cls || null }, t)),
        ),
      ),
      tbody,
    ),
  );
  const load = async () => {
    try {
      const r = await api("/admin/campaigns");
      const list = r.campaigns ?? r.items ?? [];
      note.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every second.`;
      tbody.replaceChildren(
        ...(list.length === 0
          ? [h("tr", {}, h("td", { colspan: "8", class: "muted" }, "No campaigns."))]
          : list.map((c) => {
            const total = Number(c.total ?? c.maxIssues ?? c.quantity ?? 0);
            const issued = Number(c.issued ?? c.issuedCount ?? 0);
            const remaining = Number(c.remaining ?? Math.max(total - issued, 0));
            const id = c.id ?? c.campaignId;
            return h(
              "tr",
              { "data-campaign-id": id },
              h(
                "td",
                { class: "wrap" },
                h("strong", {}, c.name ?? id),
                c.name ? h("br") : "",
                c.name ? h("code", {}, id) : "",
              ),
              h(
                "td",
                {},
                badge(c.window ?? "—", c.window === "open" ? "active" : String(c.window)),
              ),
              h(
                "td",
                {
                  class: "num granted",
                  title: "decided in Redis; stored as coupons moments later",
                },
                c.granted ?? "—",
              ),
              h("td", { class: "num issued", title: "stored as coupons" }, issued),
              h("td", { class: "num total" }, total),
              h("td", { class: "num remaining" }, remaining),
              h(
                "td",
                {},
                h("progress", {
                  max: String(total || 1),
                  value: String(issued),
                  "aria-label": `${issued} of ${total} issued`,
                }),
              ),
              h(
                "td",
                { class: "sold-out" },
                c.soldOutAt ? time(c.soldOutAt) : remaining === 0 && total > 0 ? "sold out" : "—",
              ),
            );
          })),
      );
    } catch (err) {
      if (err.status !== 401) note.replaceChildren(errorBox(err));
    }
  };
  return every(1_000, load);
}

// ---- system --------------------------------------------------------------------------------

function systemView() {
  const box = h("div", { id: "system" });
  const note = h("p", { class: "muted", role: "status" });
  main.replaceChildren(heading("System"), note, box);
  const table = (caption, cols, rows, empty) =>
    h(
      "section",
      { "aria-label": caption },
      h("h2", {}, caption),
      rows.length === 0 ? h("p", { class: "muted" }, empty) : h(
        "table",
        {},
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.map((r) => h("tr", {}, r.map((v) => h("td", {}, v))))),
      ),
    );
  const load = async () => {
    try {
      const s = await api("/admin/system");
      const r = s.relay ?? {};
      note.textContent = `Updated ${new Date(s.at).toLocaleTimeString()} · refreshes every 3 s.`;
      box.replaceChildren(
        h(
          "section",
          { "aria-label": "Outbox relay" },
          h("h2", {}, "Outbox relay"),
          h(
            "dl",
            { class: "facts", id: "relay" },
            h("div", {}, h("dt", {}, "State"), h("dd", {}, badge(r.state ?? "unknown"))),
            h(
              "div",
              {},
              h("dt", {}, "WAL behind"),
              h("dd", {}, r.walBytesBehind == null ? "—" : `${r.walBytesBehind} bytes`),
            ),
            h(
              "div",
              {},
              h("dt", {}, "Oldest unpublished"),
              h("dd", {}, `${r.oldestUnpublishedAgeSeconds ?? 0} s`),
            ),
            h("div", {}, h("dt", {}, "Events/s"), h("dd", {}, r.eventsPerSecond ?? "—")),
            h("div", {}, h("dt", {}, "Buffered"), h("dd", {}, r.bufferedEvents ?? "—")),
            r.lastError
              ? h(
                "div",
                { class: "span2" },
                h("dt", {}, "Last error"),
                h("dd", { class: "wrap" }, r.lastError),
              )
              : null,
          ),
        ),
        table(
          "Processes",
          ["Process", "Health", "Answer", "/metrics"],
          s.processes.map((
            p,
          ) => [p.process, badge(p.health ?? "unknown"), `${p.ms} ms`, p.metrics ? "yes" : "none"]),
          "",
        ),
        table(
          "Admission of new orders (POST /orders)",
          ["Instance", "State", "In flight / limit", "Ending/s", "Wait", "Admitted", "503 / 429"],
          (s.admission ?? []).map((a) => [
            a.process,
            badge(a.state),
            `${a.inFlight} / ${a.limit}`,
            String(Math.round(a.completionRatePerS * 10) / 10),
            a.estimatedWaitSeconds < 0 ? "∞" : `${Math.round(a.estimatedWaitSeconds * 10) / 10} s`,
            String(a.admitted),
            `${a.refusedOverloaded} / ${a.refusedUserLimit}`,
          ]),
          "No order instance exports admission figures (ORDER_ADMISSION=off, or not read yet).",
        ),
        table(
          "Consumer lag per group",
          ["Group", "Topic", "Lag (messages)", "From"],
          s.consumerLag.map((l) => [l.group, l.topic ?? "all", String(l.lag), l.process]),
          "No consumer lag metric is exported yet.",
        ),
        table(
          "Circuit breakers",
          ["Breaker", "State", "Process"],
          s.breakers.map((b) => [b.name, badge(b.state), b.process]),
          "No breaker metric is exported yet.",
        ),
        table(
          "Kafka brokers",
          ["Broker", "Node", "Health", "Checked by"],
          s.brokers.map((b) => [
            b.broker,
            b.nodeId === undefined ? "—" : String(b.nodeId),
            h(
              "span",
              {},
              badge(b.up ? "up" : "down"),
              b.error ? h("span", { class: "muted" }, ` ${b.error}`) : "",
            ),
            b.process,
          ]),
          "No broker could be checked.",
        ),
      );
    } catch (err) {
      if (err.status !== 401) note.replaceChildren(errorBox(err));
    }
  };
  return every(3_000, load);
}

// ---- routing -------------------------------------------------------------------------------

function route() {
  if (!me) return;
  cleanup();
  cleanup = () => {};
  const hash = location.hash.replace(/^#/, "") || "/orders";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query ?? "");
  const admin = me.roles.includes("admin");
  let section = "orders";
  const m = /^\/orders\/([0-9a-f-]{36})$/.exec(path);
  if (m) cleanup = sagaView(m[1]);
  else if (path === "/dead-letters" && admin) {
    (section = "dead-letters"), (cleanup = deadLettersView(params));
  } else if (path === "/campaigns" && admin) (section = "campaigns"), (cleanup = campaignsView());
  else if (path === "/system" && admin) (section = "system"), (cleanup = systemView());
  else cleanup = ordersView(params);
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.querySelector("h1")?.focus({ preventScroll: true });
}

async function start() {
  // A token may come in the fragment (#token=…): never sent to a server, taken once.
  const frag = /^#token=([A-Za-z0-9_.-]+)/.exec(location.hash);
  if (frag) {
    sessionStorage.setItem(TOKEN_KEY, frag[1]);
    history.replaceState(null, "", `${location.pathname}#/orders`);
  }
  if (!token()) return renderSignIn();
  try {
    me = await api("/me");
  } catch (err) {
    if (err.status !== 401) renderSignIn(`Could not reach the console: ${err.message}`);
    return;
  }
  const admin = me.roles.includes("admin");
  document.getElementById("nav").hidden = false;
  for (const a of document.querySelectorAll("#nav [data-admin]")) a.parentElement.hidden = !admin;
  document.getElementById("who").hidden = false;
  document.getElementById("who-name").textContent = `${me.id}${admin ? " (admin)" : ""}`;
  route();
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
addEventListener("hashchange", () => (/^#token=/.test(location.hash) ? start() : route()));
start();
