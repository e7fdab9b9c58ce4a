// Instant filtering of the catalog cards; the form still works without JavaScript.
(function () {
  const form = document.querySelector("[data-catalog-filter]");
  if (!form) return;
  const cards = Array.from(document.querySelectorAll("[data-addon]"));
  const sections = Array.from(document.querySelectorAll("[data-category-section]"));
  const counter = document.querySelector("[data-result-count]");
  function apply() {
    const words = form.q.value.toLowerCase().split(/\s+/).filter(Boolean);
    const category = form.category.value;
    const region = form.region.value;
    let shown = 0;
    for (const card of cards) {
      const visible = words.every((w) => card.dataset.search.includes(w)) &&
        (!category || card.dataset.category === category) &&
        (!region || card.dataset.regions.split(" ").includes(region));
      card.hidden = !visible;
      if (visible) shown += 1;
    }
    for (const section of sections) {
      section.hidden = !section.querySelector("[data-addon]:not([hidden])");
    }
    counter.textContent = shown + (shown === 1 ? " add-on" : " add-ons");
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
})();
