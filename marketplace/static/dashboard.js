// Dashboard niceties: hide the mask once a secret is revealed; confirm destructive row actions.
(function () {
  for (const secret of document.querySelectorAll("[data-secret]")) {
    const mask = secret.parentElement.querySelector("[data-masked]");
    secret.addEventListener("toggle", function () { if (mask) mask.hidden = secret.open; });
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();
