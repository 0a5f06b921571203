// Live view of what the emulator stored: a table of the latest events and a chart of events
// per type over time. Reads the emulator's inspection route (another origin: CORS).
const api = new URLSearchParams(location.search).get("api") || "http://127.0.0.1:8765";
const BUCKET_S = 10;
const BUCKETS = 30;
const COLORS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a"];

function short(id) { return id ? id.slice(0, 8) + "…" : ""; }

function renderTable(events) {
  const rows = events.slice(-15).reverse().map((e) => {
    const tr = document.createElement("tr");
    const when = new Date(e._received_at * 1000).toLocaleTimeString();
    for (const text of [when, e.type, e.customer_id, e.product?.sku ?? "", short(e.event_id)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    tr.dataset.eventId = e.event_id;
    return tr;
  });
  document.getElementById("events").replaceChildren(...rows);
}

function renderChart(events) {
  const canvas = document.getElementById("chart");
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const now = Date.now() / 1000;
  const types = [...new Set(events.map((e) => e.type))].sort();
  const counts = Object.fromEntries(types.map((t) => [t, new Array(BUCKETS).fill(0)]));
  for (const e of events) {
    const age = Math.floor((now - e._received_at) / BUCKET_S);
    if (age >= 0 && age < BUCKETS) counts[e.type][BUCKETS - 1 - age] += 1;
  }
  const peak = Math.max(1, ...types.flatMap((t) => counts[t]));
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#ccd"; ctx.beginPath(); ctx.moveTo(30, 10); ctx.lineTo(30, height - 20);
  ctx.lineTo(width - 5, height - 20); ctx.stroke();
  ctx.fillStyle = "#556"; ctx.font = "11px system-ui";
  ctx.fillText(String(peak), 4, 16); ctx.fillText("0", 18, height - 22);
  ctx.fillText(`last ${(BUCKETS * BUCKET_S) / 60} min, ${BUCKET_S} s per step`, 36, height - 5);
  const step = (width - 40) / (BUCKETS - 1);
  types.forEach((type, i) => {
    ctx.strokeStyle = COLORS[i % COLORS.length]; ctx.lineWidth = 2; ctx.beginPath();
    counts[type].forEach((n, b) => {
      const x = 32 + b * step;
      const y = height - 20 - (n / peak) * (height - 35);
      b === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
  document.getElementById("legend").replaceChildren(...types.map((type, i) => {
    const span = document.createElement("span");
    span.style.color = COLORS[i % COLORS.length];
    span.textContent = `■ ${type}: ${events.filter((e) => e.type === type).length}  `;
    return span;
  }));
}

async function refresh() {
  try {
    const answer = await fetch(`${api}/_emulator/events`);
    const { data } = await answer.json();
    renderTable(data);
    renderChart(data);
    window.masivoReceived = data.length;
  } catch (error) {
    document.getElementById("legend").textContent = `emulator unreachable at ${api}`;
  }
}

refresh();
setInterval(refresh, 1000);
