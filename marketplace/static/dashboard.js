// Dashboard niceties: the platform's header, and confirming destructive actions.
(function () {
  // Heroku's Boomerang header, for the app and add-on its script tag names (no inline script:
  // the Content-Security-Policy runs none).
  const header = document.getElementById("boomerang");
  if (header) {
    window.addEventListener("load", function () {
      if (window.Boomerang) {
        window.Boomerang.init({ app: header.dataset.app, addon: header.dataset.addon });
      }
    });
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();
