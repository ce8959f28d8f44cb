/* keiyaku: the signing page. Document tabs without reloading (typed values stay), and the
 * party's boxes laid over the page images at their places (pagemap.js: percentages of the page,
 * so they stay on their boxes at every width and zoom). Without this script the inputs follow
 * each page, each with its label.
 *
 * Tap targets (issue 10, finding 5): a box shorter than 44 CSS px on screen is filled in an
 * input sheet (the <dialog> #box-sheet: the box's label, a full-size input, OK, and 前へ/次へ to
 * the party's other boxes, so boxes too close together to tap apart are still reached with
 * large buttons); its value then shows in the box. Around every box a transparent .kbox-hit
 * widens what a tap reaches to 44 × 44 px where no other box is. Labels are the controls'
 * accessible names, the empty boxes' placeholders and the sheet's heading; nothing is drawn
 * over the document's text.
 */
(function () {
  "use strict";

  var map = window.keiyakuPageMap;
  var TAP = 44; // CSS px: the smallest tap target
  var sheet = document.getElementById("box-sheet");
  var sheetSlot = document.getElementById("box-sheet-slot");
  var sheetLabel = document.getElementById("box-sheet-label");
  var sheetRequired = document.getElementById("box-sheet-required");
  var editing = null; // the box control the sheet is open for

  function number(el, name) {
    return parseFloat(el.dataset[name]);
  }

  function controlOf(boxEl) {
    return boxEl.querySelector("input, textarea");
  }

  function clamp(value, low, high) {
    return Math.min(Math.max(value, low), Math.max(low, high));
  }

  /* Size of the value's text relative to the box, as the PDF will print it roughly: cqw are
   * hundredths of the page element's width, so the text scales with the page. */
  function fontSize(kind, box, page) {
    var points = kind === "multiline" ? Math.min(box.height * 0.4, 11) : Math.min(box.height * 0.65, 14);
    return (points / page.width) * 100 + "cqw";
  }

  function setUp(pageEl) {
    var page = { width: number(pageEl, "width"), height: number(pageEl, "height") };
    if (!page.width || !page.height || !map) {
      return;
    }
    map.shape(pageEl, page);
    pageEl.classList.add("placed");
    pageEl.querySelectorAll("[data-x]").forEach(function (el) {
      var box = { x: number(el, "x"), y: number(el, "y"), width: number(el, "w"), height: number(el, "h") };
      map.place(el, box, page);
      if (!el.classList.contains("kbox-input")) {
        return;
      }
      var control = controlOf(el);
      if (control.type !== "checkbox") {
        control.style.fontSize = fontSize(control.tagName === "TEXTAREA" ? "multiline" : "text", box, page);
      }
      var hit = document.createElement("span");
      hit.className = "kbox-hit";
      hit.setAttribute("aria-hidden", "true");
      el.appendChild(hit);
      el.addEventListener("click", onBoxClick);
      control.addEventListener("keydown", onBoxKey);
    });
    fit(pageEl);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        fit(pageEl);
      }).observe(pageEl);
    } else {
      window.addEventListener("resize", function () {
        fit(pageEl);
      });
    }
  }

  /* After every change of the page's size on screen: which boxes need the sheet, and each
   * box's tap target, at least TAP × TAP, centred on the box and kept on the page. */
  function fit(pageEl) {
    var pageRect = pageEl.getBoundingClientRect();
    if (!pageRect.width) {
      return; // on a hidden tab; fitted when it is shown
    }
    pageEl.querySelectorAll(".kbox-input").forEach(function (el) {
      var rect = el.getBoundingClientRect();
      var control = controlOf(el);
      var bySheet = rect.height < TAP;
      el.classList.toggle("by-sheet", bySheet);
      control.readOnly = bySheet;
      if (bySheet) {
        control.setAttribute("aria-haspopup", "dialog");
      } else {
        control.removeAttribute("aria-haspopup");
      }
      var width = Math.min(Math.max(rect.width, TAP), pageRect.width);
      var height = Math.min(Math.max(rect.height, TAP), pageRect.height);
      var left = clamp(rect.left - (width - rect.width) / 2, pageRect.left, pageRect.right - width);
      var top = clamp(rect.top - (height - rect.height) / 2, pageRect.top, pageRect.bottom - height);
      var hit = el.querySelector(".kbox-hit");
      hit.style.left = left - rect.left + "px";
      hit.style.top = top - rect.top + "px";
      hit.style.width = width + "px";
      hit.style.height = height + "px";
    });
  }

  // --- the input sheet --------------------------------------------------------------------------

  var sheetPrev = document.getElementById("box-sheet-prev");
  var sheetNext = document.getElementById("box-sheet-next");

  function onBoxClick(event) {
    var el = event.currentTarget;
    if (!el.classList.contains("by-sheet")) {
      return; // a tap on the target around a box reaches its control through the <label>
    }
    event.preventDefault(); // no toggle, no focus: the sheet takes the value
    openSheet(controlOf(el));
  }

  function onBoxKey(event) {
    var el = event.currentTarget.closest(".kbox-input");
    if (el.classList.contains("by-sheet") && (event.key === "Enter" || event.key === " " || event.key === "F2")) {
      event.preventDefault();
      openSheet(event.currentTarget);
    }
  }

  /* The party's boxes on the document shown now, in the order of the page. */
  function boxesShown() {
    return Array.prototype.filter.call(document.querySelectorAll(".kpage-sign.placed .kbox-input"), function (el) {
      return !el.closest("[hidden]");
    });
  }

  function sheetField() {
    return document.getElementById("box-sheet-field");
  }

  /* Put the sheet's value into the box it is open for. */
  function commit() {
    var control = editing;
    var field = sheetField();
    if (!control || !field) {
      return;
    }
    var value = field.type === "checkbox" ? field.checked : field.value;
    var current = control.type === "checkbox" ? control.checked : control.value;
    if (value === current) {
      return;
    }
    if (control.type === "checkbox") {
      control.checked = value;
    } else {
      control.value = value;
      control.scrollLeft = 0; // show the value from its start, as it will be printed
    }
    control.dispatchEvent(new Event("input", { bubbles: true }));
    control.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function fill(control) {
    var boxEl = control.closest(".kbox-input");
    editing = control;
    var field = document.createElement(control.tagName === "TEXTAREA" ? "textarea" : "input");
    if (field.tagName === "INPUT") {
      field.type = control.type;
    } else {
      field.rows = 4;
    }
    field.id = "box-sheet-field";
    field.className = "box-sheet-input";
    if (control.type === "checkbox") {
      field.checked = control.checked;
    } else {
      field.value = control.value;
    }
    if (control.maxLength > 0) {
      field.maxLength = control.maxLength;
    }
    sheetSlot.textContent = "";
    sheetSlot.appendChild(field);
    sheetLabel.textContent = boxEl.dataset.label || control.getAttribute("aria-label");
    sheetRequired.hidden = boxEl.dataset.required !== "true";
    var all = boxesShown();
    var index = all.indexOf(boxEl);
    sheetPrev.disabled = index <= 0;
    sheetNext.disabled = index < 0 || index >= all.length - 1;
    control.scrollIntoView({ block: "center" });
    field.focus();
  }

  function openSheet(control) {
    if (!sheet || !sheet.showModal) {
      control.readOnly = false; // no <dialog>: type into the box itself
      return;
    }
    sheet.returnValue = "";
    sheet.showModal();
    fill(control);
  }

  function step(offset) {
    if (!editing) {
      return;
    }
    commit();
    var all = boxesShown();
    var next = all[all.indexOf(editing.closest(".kbox-input")) + offset];
    if (next) {
      fill(controlOf(next));
    }
  }

  if (sheet) {
    sheetPrev.addEventListener("click", function () {
      step(-1);
    });
    sheetNext.addEventListener("click", function () {
      step(1);
    });
    sheet.addEventListener("close", function () {
      var control = editing;
      if (sheet.returnValue === "ok") {
        commit();
      }
      editing = null;
      sheetSlot.textContent = "";
      if (control) {
        control.focus({ preventScroll: true });
      }
    });
  }

  document.querySelectorAll(".kpage-sign").forEach(setUp);

  // --- document tabs ----------------------------------------------------------------------------

  var tabs = document.querySelectorAll(".tabs a[data-tab]");
  tabs.forEach(function (tab) {
    tab.addEventListener("click", function (event) {
      event.preventDefault();
      tabs.forEach(function (t) {
        t.removeAttribute("aria-current");
      });
      tab.setAttribute("aria-current", "page");
      document.querySelectorAll(".doc-section").forEach(function (section) {
        section.hidden = section.id !== tab.dataset.tab;
      });
    });
  });
})();
