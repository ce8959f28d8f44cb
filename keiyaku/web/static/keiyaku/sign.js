// Signing page: document tabs without reloading (typed values stay), and the party's boxes
// laid over the page images at their places. Without this script the inputs follow each page.
(function () {
  "use strict";
  function place(container) {
    var w = parseFloat(container.dataset.width), h = parseFloat(container.dataset.height);
    if (!w || !h) { return; }
    container.classList.add("placed");
    container.querySelectorAll("[data-x]").forEach(function (el) {
      el.style.left = (parseFloat(el.dataset.x) / w * 100) + "%";
      el.style.top = (parseFloat(el.dataset.y) / h * 100) + "%";
      el.style.width = (parseFloat(el.dataset.w) / w * 100) + "%";
      el.style.height = (parseFloat(el.dataset.h) / h * 100) + "%";
    });
  }
  document.querySelectorAll(".kpage-sign").forEach(place);
  var tabs = document.querySelectorAll(".tabs a[data-tab]");
  tabs.forEach(function (tab) {
    tab.addEventListener("click", function (event) {
      event.preventDefault();
      tabs.forEach(function (t) { t.removeAttribute("aria-current"); });
      tab.setAttribute("aria-current", "page");
      document.querySelectorAll(".doc-section").forEach(function (section) {
        section.hidden = section.id !== tab.dataset.tab;
      });
    });
  });
})();
