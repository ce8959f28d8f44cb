/* keiyaku: the staff screen that places input boxes on a contract's pages (issue 4).
 *
 * Positions live in PDF points from the top-left corner of the page as displayed, as the API
 * stores them; screen pixels are only derived, through the mapping the signing page uses too
 * (pagemap.js: boxes in percentages of their page), so zoom never changes what is saved and a
 * party sees a box where staff put it. Every change is saved at once through boxes.json.
 * No inline script or style: the Content-Security-Policy forbids them; element.style is allowed.
 */
(function () {
  "use strict";

  var root = document.getElementById("box-editor");
  var map = window.keiyakuPageMap;
  if (!root || !map) {
    return;
  }
  // 100% is the printed size: 1 pt = 1/72 in, 1 CSS px = 1/96 in.
  var PX_PER_PT = 96 / 72;
  var ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
  var MIN_SIZE = 8; // pt: as contracts/services/boxes.py; smaller boxes hold no character
  var DRAW_THRESHOLD = 4; // pt: a drag shorter than this is a click, not a new box
  var PARTY_COLOURS = 6; // .party-1 … .party-6 in keiyaku.css
  var KEY_SAVE_DELAY = 400; // ms: arrow keys repeat; save once they stop

  var base = root.dataset.contractUrl; // "/contracts/<id>/"
  var listUrl = base + "boxes.json";
  var msg = root.dataset;
  var pagesEl = document.getElementById("box-pages");
  var errorsEl = document.getElementById("box-errors");
  var statusEl = document.getElementById("box-status");
  var form = document.getElementById("box-form");
  var fields = document.getElementById("box-fields");
  var noneEl = document.getElementById("box-none");
  var legendEl = document.getElementById("box-legend");
  var zoomIn = document.getElementById("zoom-in");
  var zoomOut = document.getElementById("zoom-out");
  var zoomLevel = document.getElementById("zoom-level");
  var input = {
    kind: document.getElementById("box-kind"),
    label: document.getElementById("box-label"),
    party: document.getElementById("box-party"),
    required: document.getElementById("box-required"),
    max_length: document.getElementById("box-max-length"),
    x: document.getElementById("box-x"),
    y: document.getElementById("box-y"),
    width: document.getElementById("box-width"),
    height: document.getElementById("box-height"),
  };
  var deleteButton = document.getElementById("box-delete");

  var state = {
    editable: false,
    zoom: 1,
    documents: [],
    parties: [],
    pages: {}, // "doc:page" -> {doc, page, el, img}
    boxes: {}, // id -> box as currently shown
    saved: {}, // id -> box as the server last confirmed it
    elements: {}, // id -> .kbox element
    selected: null,
    queues: {}, // id -> promise chain, so one box's requests reach the server in order
    keyTimers: {},
    pending: 0,
    seq: 0, // numbers each change, in the order they are made
    errorSeq: 0,
    drag: null,
  };

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function round(value) {
    return Math.round(value * 100) / 100;
  }

  function clamp(value, low, high) {
    return Math.min(Math.max(value, low), Math.max(low, high));
  }

  function copy(box) {
    return Object.assign({}, box);
  }

  // --- messages -------------------------------------------------------------------------------

  function showError(text) {
    errorsEl.textContent = text;
  }

  /* An answer clears the error only if its change was made after the error was shown: a late
   * success of an earlier change must not hide a refusal the user has not read yet. */
  function succeeded(seq) {
    if (seq > state.errorSeq) {
      clearError();
    }
  }

  function clearError() {
    errorsEl.textContent = "";
    Object.keys(input).forEach(function (name) {
      input[name].removeAttribute("aria-invalid");
    });
  }

  function showStatus(text) {
    statusEl.textContent = text;
  }

  // --- the API ----------------------------------------------------------------------------------

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) {
      return decodeURIComponent(match[1]);
    }
    // CSRF_COOKIE_HTTPONLY hides the cookie from scripts; {% csrf_token %} is in the page.
    var hidden = root.querySelector("input[name=csrfmiddlewaretoken]");
    return hidden ? hidden.value : "";
  }

  /* data-pending counts changes not yet saved, from the moment they are made until the screen
   * shows the answer: a waiting arrow-key save, a queued or running request and its handling. */
  function setPending(delta) {
    state.pending += delta;
    root.dataset.pending = String(state.pending);
  }

  function tracked(promise) {
    return promise.then(
      function (value) {
        setPending(-1);
        return value;
      },
      function (error) {
        setPending(-1);
        throw error;
      }
    );
  }

  /* Resolves with the parsed body (null for 204); rejects with {message, field}. */
  function api(method, url, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options)
      .catch(function () {
        throw { message: msg.msgSaveFailed, field: null };
      })
      .then(function (response) {
        if (response.status === 204) {
          return null;
        }
        var json = (response.headers.get("Content-Type") || "").indexOf("json") !== -1;
        // A redirect to the login page arrives as HTML: that is a failure, not data.
        var parsed = json ? response.json() : Promise.resolve(null);
        return parsed.then(
          function (data) {
            if (response.ok && data !== null) {
              return data;
            }
            throw {
              message: (data && data.error) || msg.msgSaveFailed + " (HTTP " + response.status + ")",
              field: (data && data.field) || null,
            };
          },
          function () {
            throw { message: msg.msgSaveFailed + " (HTTP " + response.status + ")", field: null };
          }
        );
      });
  }

  function boxUrl(id) {
    return base + "boxes/" + id + ".json";
  }

  function enqueue(id, task) {
    setPending(1);
    var queue = tracked((state.queues[id] || Promise.resolve()).then(task, task));
    // The next request waits for this one, whatever its outcome.
    state.queues[id] = queue.catch(function () {});
    return state.queues[id];
  }

  function failed(error) {
    state.errorSeq = ++state.seq;
    showError(error.message || msg.msgSaveFailed);
    var field = error.field && input[error.field];
    if (field) {
      field.setAttribute("aria-invalid", "true");
    }
  }

  /* Sends the changed fields; the box is already shown changed. A refusal puts it back. */
  function save(id, changes) {
    var seq = ++state.seq;
    return enqueue(id, function () {
      if (!state.boxes[id]) {
        return null; // deleted meanwhile
      }
      return api("PATCH", boxUrl(id), changes).then(
        function (box) {
          succeeded(seq);
          showStatus(msg.msgSaved);
          accept(box);
        },
        function (error) {
          failed(error);
          if (state.saved[id]) {
            state.boxes[id] = copy(state.saved[id]);
            drawBox(id);
            if (state.selected === id) {
              fillPanel();
            }
          }
        }
      );
    });
  }

  function accept(box) {
    state.saved[box.id] = copy(box);
    // Keep what the user is still changing (a drag or repeating arrow keys) on screen.
    if (!(state.drag && state.drag.id === box.id) && !state.keyTimers[box.id]) {
      state.boxes[box.id] = copy(box);
      drawBox(box.id);
      if (state.selected === box.id) {
        fillPanel();
      }
    }
  }

  function create(pageInfo, rect) {
    var seq = ++state.seq;
    var selected = state.selected && state.boxes[state.selected];
    var count = Object.keys(state.boxes).length + 1;
    var body = {
      document: pageInfo.doc.id,
      page: pageInfo.page.number,
      x: round(rect.x),
      y: round(rect.y),
      width: round(rect.width),
      height: round(rect.height),
      kind: "text",
      label: msg.msgDefaultLabel + count,
      party: selected ? selected.party : state.parties[0].id,
      required: true,
      max_length: null,
    };
    setPending(1);
    return tracked(api("POST", listUrl, body).then(
      function (box) {
        succeeded(seq);
        showStatus(msg.msgSaved);
        state.saved[box.id] = copy(box);
        state.boxes[box.id] = copy(box);
        drawBox(box.id);
        select(box.id);
        state.elements[box.id].focus();
      },
      failed
    ));
  }

  function remove(id) {
    var seq = ++state.seq;
    var element = state.elements[id];
    var next = null;
    if (element) {
      var all = Array.prototype.slice.call(pagesEl.querySelectorAll(".kbox"));
      next = all[all.indexOf(element) + 1] || all[all.indexOf(element) - 1] || null;
    }
    return enqueue(id, function () {
      if (!state.boxes[id]) {
        return null; // a repeated Delete key: already gone
      }
      return api("DELETE", boxUrl(id)).then(
        function () {
          succeeded(seq);
          showStatus(msg.msgDeleted);
          delete state.boxes[id];
          delete state.saved[id];
          if (state.elements[id]) {
            state.elements[id].remove();
            delete state.elements[id];
          }
          if (state.selected === id) {
            select(null);
          }
          if (next && next.isConnected) {
            next.focus();
          }
        },
        failed
      );
    });
  }

  // --- drawing the pages and boxes --------------------------------------------------------------

  function partyIndex(partyId) {
    for (var i = 0; i < state.parties.length; i += 1) {
      if (state.parties[i].id === partyId) {
        return i;
      }
    }
    return -1;
  }

  function partyLabel(partyId) {
    var index = partyIndex(partyId);
    return index === -1 ? "?" : state.parties[index].label;
  }

  function pageOf(box) {
    return state.pages[box.document + ":" + box.page];
  }

  function buildPages() {
    pagesEl.textContent = "";
    state.documents.forEach(function (doc) {
      var section = document.createElement("section");
      section.className = "kdoc";
      section.dataset.document = String(doc.id);
      var heading = document.createElement("h2");
      heading.textContent = doc.filename;
      section.appendChild(heading);
      doc.pages.forEach(function (page) {
        var head = document.createElement("div");
        head.className = "kpage-head";
        var title = document.createElement("h3");
        title.textContent = format(msg.msgPage, { page: page.number });
        head.appendChild(title);
        var pageEl = document.createElement("div");
        pageEl.className = "kpage";
        pageEl.dataset.document = String(doc.id);
        pageEl.dataset.page = String(page.number);
        var img = document.createElement("img");
        img.src = page.image;
        img.srcset = page.srcset; // the browser picks a width sharp at this zoom and pixel ratio
        img.alt = format(msg.msgPageAlt, { filename: doc.filename, page: page.number });
        img.draggable = false;
        img.loading = "lazy"; // its size comes from the page size in points, not the image
        pageEl.appendChild(img);
        var info = { doc: doc, page: page, el: pageEl, img: img };
        state.pages[doc.id + ":" + page.number] = info;
        if (state.editable) {
          // The keyboard way to make a box: a default one near the top-left, then arrow keys.
          var add = document.createElement("button");
          add.type = "button";
          add.className = "secondary small kpage-add";
          add.textContent = msg.msgAddHere;
          add.addEventListener("click", function () {
            var width = Math.min(160, page.width);
            var height = Math.min(20, page.height);
            create(info, { x: Math.min(40, page.width - width), y: Math.min(40, page.height - height), width: width, height: height });
          });
          head.appendChild(add);
        }
        section.appendChild(head);
        section.appendChild(pageEl);
      });
      pagesEl.appendChild(section);
    });
  }

  function layoutPages() {
    Object.keys(state.pages).forEach(function (key) {
      var info = state.pages[key];
      var width = info.page.width * PX_PER_PT * state.zoom;
      var height = info.page.height * PX_PER_PT * state.zoom;
      info.img.sizes = Math.ceil(width) + "px";
      info.img.style.width = width + "px";
      info.img.style.height = height + "px";
      info.el.style.width = width + "px";
      info.el.style.height = height + "px";
    });
    // Boxes are in percentages of their page (pagemap.js): they follow without being placed again.
    zoomLevel.textContent = Math.round(state.zoom * 100) + "%";
    zoomOut.disabled = state.zoom <= ZOOMS[0];
    zoomIn.disabled = state.zoom >= ZOOMS[ZOOMS.length - 1];
  }

  function placeBox(id) {
    var box = state.boxes[id];
    var element = state.elements[id];
    var info = pageOf(box);
    if (!element || !info) {
      return;
    }
    map.place(element, box, info.page);
  }

  function drawBox(id) {
    var box = state.boxes[id];
    var info = pageOf(box);
    if (!info) {
      return;
    }
    var element = state.elements[id];
    if (!element) {
      element = document.createElement("div");
      element.dataset.boxId = String(id);
      element.tabIndex = 0;
      element.setAttribute("role", "button");
      var label = document.createElement("span");
      label.className = "kbox-label";
      var party = document.createElement("span");
      party.className = "kbox-party";
      element.appendChild(label);
      element.appendChild(party);
      if (state.editable) {
        var handle = document.createElement("span");
        handle.className = "kbox-handle";
        handle.setAttribute("aria-hidden", "true");
        element.appendChild(handle);
      }
      element.addEventListener("focus", function () {
        select(id);
      });
      element.addEventListener("keydown", onBoxKey);
      state.elements[id] = element;
    }
    if (element.parentNode !== info.el) {
      info.el.appendChild(element);
    }
    var index = partyIndex(box.party);
    element.className =
      "kbox kind-" + box.kind + " party-" + ((index < 0 ? 0 : index) % PARTY_COLOURS + 1) +
      (box.required ? " required" : "") + (state.selected === id ? " selected" : "");
    element.dataset.party = String(box.party);
    element.dataset.kind = box.kind;
    element.setAttribute("aria-pressed", state.selected === id ? "true" : "false");
    element.setAttribute(
      "aria-label",
      format(msg.msgBox, { label: box.label, party: partyLabel(box.party) }) + " " +
        (box.required ? msg.msgRequired : msg.msgOptional)
    );
    // textContent only: labels are typed by people and must stay text.
    element.querySelector(".kbox-label").textContent = box.label + (box.required ? " *" : "");
    element.querySelector(".kbox-party").textContent = partyLabel(box.party);
    placeBox(id);
  }

  // --- selection and the property panel ---------------------------------------------------------

  function select(id) {
    var previous = state.selected;
    state.selected = id;
    if (previous !== null && state.boxes[previous]) {
      drawBox(previous);
    }
    if (id !== null && state.boxes[id]) {
      drawBox(id);
    }
    fillPanel();
  }

  function fillPanel() {
    var box = state.selected !== null ? state.boxes[state.selected] : null;
    fields.disabled = !box || !state.editable;
    noneEl.hidden = !!box;
    if (!box) {
      Object.keys(input).forEach(function (name) {
        if (input[name].type === "checkbox") {
          input[name].checked = false;
        } else if (name !== "kind" && name !== "party") {
          input[name].value = "";
        }
      });
      return;
    }
    var active = document.activeElement;
    function set(name, value) {
      if (input[name] !== active) {
        input[name].value = value;
      }
    }
    set("kind", box.kind);
    set("label", box.label);
    set("party", String(box.party));
    if (input.required !== active) {
      input.required.checked = !!box.required;
    }
    set("max_length", box.max_length === null || box.max_length === undefined ? "" : String(box.max_length));
    // A date or a checkbox has no length to limit.
    input.max_length.disabled = box.kind === "date" || box.kind === "checkbox";
    set("x", String(round(box.x)));
    set("y", String(round(box.y)));
    set("width", String(round(box.width)));
    set("height", String(round(box.height)));
  }

  function fillParties() {
    input.party.textContent = "";
    legendEl.textContent = "";
    state.parties.forEach(function (party, index) {
      var option = document.createElement("option");
      option.value = String(party.id);
      option.textContent = party.label;
      input.party.appendChild(option);
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "box-swatch party-" + (index % PARTY_COLOURS + 1);
      swatch.setAttribute("aria-hidden", "true");
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(party.label));
      legendEl.appendChild(item);
    });
  }

  /* The value of one panel field as the API wants it, or undefined when it is not valid. */
  function panelValue(name) {
    var element = input[name];
    if (name === "required") {
      return element.checked;
    }
    if (name === "party") {
      return Number(element.value);
    }
    if (name === "max_length") {
      if (element.value.trim() === "") {
        return null;
      }
      var length = Number(element.value);
      return Number.isInteger(length) && length > 0 ? length : undefined;
    }
    if (name === "x" || name === "y" || name === "width" || name === "height") {
      var number = Number(element.value);
      return element.value.trim() !== "" && Number.isFinite(number) ? number : undefined;
    }
    return element.value;
  }

  function commitField(name) {
    var id = state.selected;
    var box = id !== null ? state.boxes[id] : null;
    if (!box || !state.editable) {
      return;
    }
    var value = panelValue(name);
    if (value === undefined) {
      // Our own words: the browser's validationMessage follows its UI language, not the page's.
      failed({ message: name === "max_length" ? msg.msgMaxLength : msg.msgNumber, field: name });
      fillPanel();
      return;
    }
    var changes = {};
    if (name === "x" || name === "y" || name === "width" || name === "height") {
      var next = copy(box);
      next[name] = value;
      fit(next, pageOf(box).page, name === "width" || name === "height" ? "resize" : "move");
      ["x", "y", "width", "height"].forEach(function (key) {
        if (next[key] !== box[key]) {
          changes[key] = next[key];
        }
      });
      Object.assign(box, next);
    } else if (value !== box[name]) {
      changes[name] = value;
      box[name] = value;
    }
    drawBox(id);
    fillPanel();
    if (Object.keys(changes).length) {
      save(id, changes);
    }
  }

  Object.keys(input).forEach(function (name) {
    input[name].addEventListener("change", function () {
      commitField(name);
    });
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });
  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target.tagName === "INPUT" && target.type !== "checkbox") {
      event.preventDefault();
      var name = Object.keys(input).filter(function (key) {
        return input[key] === target;
      })[0];
      if (name) {
        commitField(name);
      }
    }
  });
  deleteButton.addEventListener("click", function () {
    if (state.selected !== null) {
      remove(state.selected);
    }
  });

  // --- geometry ---------------------------------------------------------------------------------

  /* Keeps a box on its page and at least MIN_SIZE; a move keeps the size, a resize the corner. */
  function fit(box, page, how) {
    box.width = clamp(box.width, MIN_SIZE, page.width);
    box.height = clamp(box.height, MIN_SIZE, page.height);
    if (how === "resize") {
      box.x = clamp(box.x, 0, page.width - MIN_SIZE);
      box.y = clamp(box.y, 0, page.height - MIN_SIZE);
      box.width = clamp(box.width, MIN_SIZE, page.width - box.x);
      box.height = clamp(box.height, MIN_SIZE, page.height - box.y);
    } else {
      box.x = clamp(box.x, 0, page.width - box.width);
      box.y = clamp(box.y, 0, page.height - box.height);
    }
    box.x = round(box.x);
    box.y = round(box.y);
    box.width = round(box.width);
    box.height = round(box.height);
    return box;
  }

  function pointOn(info, event) {
    var point = map.pointAt(info.el, info.page, event.clientX, event.clientY);
    return {
      x: clamp(point.x, 0, info.page.width),
      y: clamp(point.y, 0, info.page.height),
    };
  }

  function pageInfoOf(pageEl) {
    return state.pages[pageEl.dataset.document + ":" + pageEl.dataset.page];
  }

  function onPointerDown(event) {
    if (!state.editable || event.button !== 0 || state.drag) {
      return;
    }
    var pageEl = event.target.closest(".kpage");
    if (!pageEl) {
      return;
    }
    var info = pageInfoOf(pageEl);
    var boxEl = event.target.closest(".kbox");
    event.preventDefault(); // no image drag, no text selection
    var start = pointOn(info, event);
    if (boxEl) {
      var id = Number(boxEl.dataset.boxId);
      boxEl.focus();
      state.drag = {
        mode: event.target.closest(".kbox-handle") ? "resize" : "move",
        id: id,
        info: info,
        start: start,
        origin: copy(state.boxes[id]),
      };
    } else {
      var draft = document.createElement("div");
      draft.className = "kbox-draft";
      pageEl.appendChild(draft);
      state.drag = { mode: "draw", info: info, start: start, draft: draft, rect: null };
    }
  }

  function onPointerMove(event) {
    var drag = state.drag;
    if (!drag) {
      return;
    }
    event.preventDefault();
    var point = pointOn(drag.info, event);
    var dx = point.x - drag.start.x;
    var dy = point.y - drag.start.y;
    if (drag.mode === "draw") {
      drag.rect = {
        x: Math.min(point.x, drag.start.x),
        y: Math.min(point.y, drag.start.y),
        width: Math.abs(dx),
        height: Math.abs(dy),
      };
      map.place(drag.draft, drag.rect, drag.info.page);
      return;
    }
    var box = state.boxes[drag.id];
    if (!box) {
      return;
    }
    if (drag.mode === "move") {
      box.x = drag.origin.x + dx;
      box.y = drag.origin.y + dy;
    } else {
      box.width = drag.origin.width + dx;
      box.height = drag.origin.height + dy;
    }
    fit(box, drag.info.page, drag.mode);
    placeBox(drag.id);
    if (state.selected === drag.id) {
      fillPanel();
    }
  }

  function onPointerUp() {
    var drag = state.drag;
    if (!drag) {
      return;
    }
    state.drag = null;
    if (drag.mode === "draw") {
      drag.draft.remove();
      var rect = drag.rect;
      if (rect && rect.width >= DRAW_THRESHOLD && rect.height >= DRAW_THRESHOLD) {
        create(drag.info, fit(copy(rect), drag.info.page, "resize"));
      } else {
        // A click on the page clears the selection.
        if (document.activeElement && document.activeElement.classList.contains("kbox")) {
          document.activeElement.blur();
        }
        select(null);
      }
      return;
    }
    var box = state.boxes[drag.id];
    if (!box) {
      return;
    }
    var changes = {};
    var keys = drag.mode === "move" ? ["x", "y"] : ["width", "height"];
    keys.forEach(function (key) {
      if (box[key] !== drag.origin[key]) {
        changes[key] = box[key];
      }
    });
    if (Object.keys(changes).length) {
      save(drag.id, changes);
    }
  }

  function onPointerCancel() {
    var drag = state.drag;
    if (!drag) {
      return;
    }
    state.drag = null;
    if (drag.mode === "draw") {
      drag.draft.remove();
    } else if (state.boxes[drag.id]) {
      state.boxes[drag.id] = copy(drag.origin);
      drawBox(drag.id);
      fillPanel();
    }
  }

  // --- keyboard ---------------------------------------------------------------------------------

  var ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  function onBoxKey(event) {
    if (!state.editable) {
      return;
    }
    var id = Number(event.currentTarget.dataset.boxId);
    var box = state.boxes[id];
    if (!box) {
      return;
    }
    if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      remove(id);
      return;
    }
    if (event.key === "Enter") {
      event.preventDefault();
      input.label.focus();
      return;
    }
    var arrow = ARROWS[event.key];
    if (!arrow) {
      return;
    }
    event.preventDefault();
    var keys = event.shiftKey ? ["width", "height"] : ["x", "y"];
    box[keys[0]] += arrow[0];
    box[keys[1]] += arrow[1];
    fit(box, pageOf(box).page, event.shiftKey ? "resize" : "move");
    placeBox(id);
    fillPanel();
    if (state.keyTimers[id]) {
      clearTimeout(state.keyTimers[id]);
    } else {
      setPending(1);
    }
    state.keyTimers[id] = setTimeout(function () {
      delete state.keyTimers[id];
      var saved = state.saved[id];
      var current = state.boxes[id];
      var changes = {};
      ["x", "y", "width", "height"].forEach(function (key) {
        if (saved && current && current[key] !== saved[key]) {
          changes[key] = current[key];
        }
      });
      if (Object.keys(changes).length) {
        save(id, changes);
      }
      setPending(-1); // after save() has counted its own request
    }, KEY_SAVE_DELAY);
  }

  // --- zoom -------------------------------------------------------------------------------------

  function zoomBy(step) {
    var index = ZOOMS.indexOf(state.zoom) + step;
    if (index < 0 || index >= ZOOMS.length) {
      return;
    }
    state.zoom = ZOOMS[index];
    layoutPages();
  }

  zoomIn.addEventListener("click", function () {
    zoomBy(1);
  });
  zoomOut.addEventListener("click", function () {
    zoomBy(-1);
  });

  // --- start --------------------------------------------------------------------------------------

  function start(data) {
    state.editable = !!data.editable;
    state.documents = data.documents || [];
    state.parties = (data.parties || []).slice().sort(function (a, b) {
      return a.position - b.position;
    });
    if (state.editable && !state.parties.length) {
      // Every box belongs to a party; without parties nothing can be placed.
      state.editable = false;
      showError(msg.msgNoParties);
    } else if (!state.editable) {
      showStatus(msg.msgReadOnly);
    }
    root.classList.toggle("editable", state.editable);
    fillParties();
    buildPages();
    (data.boxes || []).forEach(function (box) {
      state.saved[box.id] = copy(box);
      state.boxes[box.id] = copy(box);
      drawBox(box.id);
    });
    layoutPages();
    fillPanel();
    if (state.editable) {
      pagesEl.addEventListener("pointerdown", onPointerDown);
      window.addEventListener("pointermove", onPointerMove);
      window.addEventListener("pointerup", onPointerUp);
      window.addEventListener("pointercancel", onPointerCancel);
      window.addEventListener("blur", onPointerCancel);
    }
    root.dataset.ready = "true";
  }

  api("GET", listUrl).then(start, function () {
    showError(msg.msgLoadFailed);
  });
})();
