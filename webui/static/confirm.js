// A form with data-confirm asks first, in the page's language (no inline script: the text
// may hold any character, quotes included).
document.addEventListener("submit", function (event) {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
