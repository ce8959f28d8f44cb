/* keiyaku: the one mapping between a box's place on a page and the page image on screen,
 * shared by the staff placement screen (boxes.js) and the signing page (sign.js; issue 10,
 * finding 5).
 *
 * A box is stored in PDF points from the top-left corner of the page as displayed (the visible
 * page of keiyaku.signing.geometry: crop box clipped to media box, turned by /Rotate), y
 * downwards. A page element has exactly the visible page's shape and the page image fills it
 * (no border, no padding), so a box is placed in percentages of its page element: it stays on
 * its place at every width, zoom and device pixel ratio without being recomputed, and the
 * screen's pixels never reach what is stored.
 * No inline script or style: the Content-Security-Policy forbids them; element.style is allowed.
 */
(function () {
  "use strict";

  function percent(value, total) {
    return (value / total) * 100 + "%";
  }

  window.keiyakuPageMap = {
    /* Give a page element the visible page's shape: page = {width, height} in points. */
    shape: function (pageEl, page) {
      pageEl.style.aspectRatio = page.width + " / " + page.height;
    },

    /* Put an absolutely positioned element over box = {x, y, width, height} (points). */
    place: function (el, box, page) {
      el.style.left = percent(box.x, page.width);
      el.style.top = percent(box.y, page.height);
      el.style.width = percent(box.width, page.width);
      el.style.height = percent(box.height, page.height);
    },

    /* CSS pixels per point as the page is displayed now. */
    scale: function (pageEl, page) {
      var width = pageEl.getBoundingClientRect().width;
      return width > 0 ? width / page.width : 0;
    },

    /* The point (in points, on the page) under a pointer at clientX, clientY. */
    pointAt: function (pageEl, page, clientX, clientY) {
      var rect = pageEl.getBoundingClientRect();
      return {
        x: rect.width > 0 ? ((clientX - rect.left) / rect.width) * page.width : 0,
        y: rect.height > 0 ? ((clientY - rect.top) / rect.height) * page.height : 0,
      };
    },
  };
})();
