// The demo web POS: every call goes to the box's API with a bearer token, from this page's
// own origin. Plain fetch, no library: what any web POS would do.
(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  $("box").value = params.get("box") || location.origin;
  let token = null, session = null, nextId = 1;
  const ticketId = "demo-" + Math.random().toString(16).slice(2, 10);

  function say(text) { $("log").textContent += text + "\n"; }

  async function call(method, path, body) {
    const response = await fetch($("box").value.replace(/\/$/, "") + path, {
      method,
      headers: Object.assign({ "Content-Type": "application/json" },
                             token ? { Authorization: "Bearer " + token } : {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(response.status + ": " + (data.message || response.statusText));
    return data;
  }

  function guarded(action) {
    return async () => {
      try { await action(); } catch (error) { say("Error: " + error.message); }
    };
  }

  $("pair").addEventListener("click", guarded(async () => {
    token = (await call("POST", "/api/v1/pair", { pin: $("pin").value, name: "Demo web POS" })).token;
    session = (await call("POST", "/api/v1/sessions", { staff: "demo" })).id;
    say("Paired, session open.");
  }));

  $("push").addEventListener("click", guarded(async () => {
    const mutations = [
      { id: nextId++, name: "ticket.open", args: { ticket_id: ticketId, label: "Web table" } },
      { id: nextId++, name: "ticket.add_line", args: { ticket_id: ticketId, line_id: "l" + nextId,
        product: $("item").value, qty: 1, unit_price: parseInt($("price").value, 10) } },
    ];
    const answer = await call("POST", "/api/v1/sync/push", { session, staff: "demo", mutations });
    say("Ticket pushed: " + answer.results.map((r) => r.status).join(", ") + ".");
  }));

  $("print").addEventListener("click", guarded(async () => {
    const price = (parseInt($("price").value, 10) / 100).toFixed(2);
    const job = await call("POST", "/api/v1/jobs", {
      id: crypto.randomUUID(), role: "receipt",
      document: { lines: [{ text: "Web table", size: "double" }, { columns: [$("item").value, price] }], cut: true },
    });
    say("Print job " + job.status + ".");
    for (let i = 0; i < 100; i++) {
      const now = await call("GET", "/api/v1/jobs/" + job.id);
      if (now.status === "printed") { say("Printed on paper."); return; }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    say("Still waiting for the printer.");
  }));
})();
