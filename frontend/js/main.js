// Entry module: shows the gateway's health until the full app (issue 6) lands.
const summary = document.getElementById("health-summary");
const list = document.getElementById("health-components");

async function refresh() {
  try {
    const resp = await fetch("/api/health");
    const body = await resp.json();
    summary.textContent = `Gateway ${body.version}: ${body.status}`;
    summary.className = body.status;
    list.replaceChildren(
      ...Object.entries(body.components).map(([name, c]) => {
        const li = document.createElement("li");
        li.textContent = `${name}: ${c.status}${c.detail ? ` (${c.detail})` : ""}`;
        li.className = c.status;
        return li;
      }),
    );
  } catch (err) {
    summary.textContent = `Gateway unreachable: ${err}`;
    summary.className = "down";
  }
}
refresh();
setInterval(refresh, 10000);
