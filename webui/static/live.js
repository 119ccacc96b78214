// Live regions: every element with data-live="<url>" is fetched again every 2 s and swapped
// in place (the overview, the jobs queue), so the page follows the box without a reload.
(function () {
  const regions = document.querySelectorAll("[data-live]");
  if (!regions.length) return;
  async function refresh(region) {
    // Someone is typing into a form of the region (accepting a printer): leave it be.
    const active = document.activeElement;
    if (active && region.contains(active) && active.matches("input, select, textarea")) return;
    try {
      const response = await fetch(region.dataset.live, { credentials: "same-origin" });
      if (response.ok) region.innerHTML = await response.text();
    } catch (error) {
      // The box is restarting or the Wi-Fi dropped: try again at the next tick.
    }
  }
  setInterval(function () { regions.forEach(refresh); }, 2000);
})();
