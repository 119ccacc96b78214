// The overview stays live: its body is fetched again every 2 s and swapped in place.
(function () {
  const box = document.getElementById("overview");
  if (!box) return;
  async function refresh() {
    try {
      const response = await fetch(box.dataset.src, { credentials: "same-origin" });
      if (response.ok) box.innerHTML = await response.text();
    } catch (error) {
      // The box is restarting or the Wi-Fi dropped: try again at the next tick.
    }
  }
  setInterval(refresh, 2000);
})();
