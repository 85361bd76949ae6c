/*
 * demo.js -- the behaviour of the juggernaut-fcgi demo page (demo/index.html).
 *
 * Three channels on one Juggernaut client:
 *   /chat      lines people type; published through the demo-only publish
 *              endpoint with `except: jug.sessionID`, the sender shows its own
 *              line at once, so nobody sees a line twice;
 *   /roster    the whole roster, published by the roster process whenever a
 *              subscribe/unsubscribe server event changes it;
 *   /observer  Spine-style {type, class, id, record} messages that every page
 *              (the sender too) applies to its record list.
 * ?transport=NAME forces one transport; ?name=NAME sets the display name.
 * window.demo exposes the client and state for the browser tests.
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const forced = params.get("transport") || "";
  const store = (() => { try { return window.localStorage; } catch (e) { return null; } })();

  const randomId = (prefix) => prefix + Math.random().toString(36).slice(2, 10);
  const remember = (key, value) => { try { store && store.setItem(key, value); } catch (e) { /* private mode */ } };
  const recall = (key) => { try { return store && store.getItem(key); } catch (e) { return null; } };

  const userId = recall("jugdemo.user") || randomId("u-");
  remember("jugdemo.user", userId);
  const name = (params.get("name") || recall("jugdemo.name") || "guest-" + userId.slice(2, 6)).slice(0, 40);
  remember("jugdemo.name", name);

  const options = {meta: {user_id: userId, name: name}, minDelay: 200, maxDelay: 5000};
  if (forced) options.transports = [forced];
  const jug = new Juggernaut(options);
  const records = new Map();
  const demo = {jug, userId, name, records, lines: [], roster: []};
  window.demo = demo;

  /* ---- status bar ---- */

  function setState(state) {
    const el = $("state");
    el.textContent = state;
    el.className = "pill state-" + state;
    $("transport").textContent = jug.transport || "none";
    $("sid").textContent = jug.sessionID || "–";
    demo.state = state;
  }

  $("transport-select").value = forced;
  $("transport-select").addEventListener("change", (e) => {
    const next = new URLSearchParams(location.search);
    if (e.target.value) next.set("transport", e.target.value); else next.delete("transport");
    location.search = next.toString();
  });

  $("name").value = name;
  $("name-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams(location.search);
    next.set("name", $("name").value.trim() || name);
    location.search = next.toString();   /* meta is sent with connect: start afresh */
  });

  /* ---- chat ---- */

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }

  function addLine(kind, who, text, at) {
    const li = document.createElement("li");
    li.className = "line " + kind;
    const time = document.createElement("time");
    time.textContent = clock(at || Date.now());
    li.appendChild(time);
    if (who) {
      const w = document.createElement("span");
      w.className = "who";
      w.textContent = who;
      li.appendChild(w);
    }
    const t = document.createElement("span");
    t.className = "text";
    t.textContent = text;
    li.appendChild(t);
    const list = $("lines");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(li);
    if (atBottom) list.scrollTop = list.scrollHeight;
    demo.lines.push({kind, who, text});
  }

  async function publish(message) {
    const body = new URLSearchParams({message: JSON.stringify(message)});
    const res = await fetch(jug.url + "/publish", {method: "POST", body});
    if (!res.ok) throw new Error("publish: HTTP " + res.status + " " + (await res.text()));
  }

  $("say").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const line = {type: "chat", user_id: userId, name, text, at: Date.now()};
    addLine("mine", name, text, line.at);
    try {
      await publish({channels: ["/chat"], data: line, except: jug.sessionID || undefined});
    } catch (err) {
      addLine("system", "", "not sent: " + err.message);
    }
  });

  jug.subscribe("/chat", (data) => {
    if (data && typeof data === "object") addLine("theirs", String(data.name || "?"), String(data.text || ""), data.at);
    else addLine("theirs", "?", String(data));
  });

  /* ---- roster ---- */

  jug.subscribe("/roster", (data) => {
    if (!data || !Array.isArray(data.users)) return;
    demo.roster = data.users;
    const ul = $("roster");
    ul.textContent = "";
    for (const u of data.users) {
      const li = document.createElement("li");
      li.dataset.user = u.user_id;
      if (u.user_id === userId) li.className = "me";
      li.appendChild(document.createTextNode(u.name + (u.user_id === userId ? " (you)" : "")));
      if (u.count > 1) {
        const c = document.createElement("span");
        c.className = "count";
        c.textContent = u.count + " windows";
        li.appendChild(c);
      }
      ul.appendChild(li);
    }
    $("roster-count").textContent = String(data.users.length);
  });

  /* ---- records (Spine-style observer) ---- */

  const WORDS = ["amber", "birch", "cobalt", "dune", "ember", "fjord", "granite", "harbor", "indigo",
    "juniper", "kelp", "lagoon", "meadow", "nimbus", "orchid", "pebble", "quartz", "river"];
  const COLORS = ["#c2410c", "#0f766e", "#1d4ed8", "#7c3aed", "#be185d", "#a16207"];
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  const title = () => pick(WORDS) + " " + pick(WORDS);

  function renderRecord(rec, flash) {
    let li = document.querySelector(`#records li[data-id="${CSS.escape(rec.id)}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = rec.id;
      li.innerHTML = '<span class="title"></span><span class="version"></span>' +
        '<button type="button" class="small ghost edit">Rename</button>' +
        '<button type="button" class="small ghost destroy">Delete</button>';
      li.querySelector(".edit").addEventListener("click", () => change("update", li.dataset.id));
      li.querySelector(".destroy").addEventListener("click", () => change("destroy", li.dataset.id));
      $("records").appendChild(li);
    }
    li.style.setProperty("--swatch", rec.color);
    li.querySelector(".title").textContent = rec.title;
    li.querySelector(".version").textContent = "v" + rec.version;
    if (flash) {
      li.classList.add("flash");
      setTimeout(() => li.classList.remove("flash"), 600);
    }
  }

  function applyObserved(msg) {
    if (!msg || typeof msg !== "object" || msg.class !== "Note" || typeof msg.id !== "string") return;
    if (msg.type === "destroy") {
      records.delete(msg.id);
      const li = document.querySelector(`#records li[data-id="${CSS.escape(msg.id)}"]`);
      if (li) li.remove();
    } else if ((msg.type === "create" || msg.type === "update") && msg.record) {
      records.set(msg.id, msg.record);
      renderRecord(msg.record, true);
    }
  }

  function change(type, id) {
    let record;
    if (type === "create") {
      id = randomId("n-");
      record = {id, title: title(), color: pick(COLORS), version: 1, by: name};
    } else if (type === "update") {
      const old = records.get(id);
      if (!old) return;
      record = Object.assign({}, old, {title: title(), version: old.version + 1, by: name});
    } else {
      record = records.get(id) || {id};
    }
    publish({channels: ["/observer"], data: {type, class: "Note", id, record}})
      .catch((err) => addLine("system", "", "record change not sent: " + err.message));
  }

  $("create").addEventListener("click", () => change("create"));
  jug.subscribe("/observer", applyObserved);

  /* ---- connection state ---- */

  jug.on("connect", () => {
    setState("connected");
    addLine("system", "", "connected via " + jug.transport);
  });
  jug.on("disconnect", () => {
    setState(jug.state === "idle" ? "disconnected" : "reconnecting");
    addLine("system", "", "connection lost: reconnecting");
  });
  jug.on("reconnect", (info) => {
    setState("connected");
    addLine("system", "", info && info.newSession ? "reconnected with a new session (messages in between may be missing)" : "reconnected");
  });
  jug.on("error", (err) => {
    if (err && err.code) addLine("system", "", "error: " + err.code + (err.message ? " – " + err.message : ""));
  });
  jug.on("message", (m) => {
    $("last-id").textContent = String(m.id);
    if ($("transport").textContent !== jug.transport) setState(demo.state || "connected");
  });

  setState("connecting");
})();
