// torch2flax explain page: line mapping (hover previews, click or Enter pins), keyboard moves, the rule panel.
(function () {
  "use strict";
  var map = JSON.parse(document.getElementById("line-map").textContent);
  var blocks = map.blocks; // [{source: [first, last], flax: [first, last]}]
  var torchPane = document.getElementById("torch-code");
  var flaxPane = document.getElementById("flax-code");
  var pinned = null;

  function line(side, n) { return document.getElementById((side === "torch" ? "t-" : "f-") + n); }
  function range(span) { var out = []; for (var n = span[0]; n <= span[1]; n++) out.push(n); return out; }
  function blocksOf(el) {
    var ids = el.getAttribute(el.id.charAt(0) === "t" ? "data-blocks" : "data-block");
    return ids ? ids.split(" ").map(Number) : [];
  }
  function clear() {
    Array.prototype.forEach.call(document.querySelectorAll(".line.hl"), function (el) { el.classList.remove("hl"); });
  }
  // the lines of every block the element belongs to, on both sides
  function show(el, scroll) {
    clear();
    var ids = blocksOf(el);
    var firstFlax = null, firstTorch = null;
    ids.forEach(function (i) {
      range(blocks[i].source).forEach(function (n) { var t = line("torch", n); if (t) { t.classList.add("hl"); firstTorch = firstTorch || t; } });
      range(blocks[i].flax).forEach(function (n) { var f = line("flax", n); if (f) { f.classList.add("hl"); firstFlax = firstFlax || f; } });
    });
    if (scroll) {
      var other = el.id.charAt(0) === "t" ? firstFlax : firstTorch;
      if (other) other.scrollIntoView({block: "nearest"});
    }
    return ids.length;
  }
  function restore() { if (pinned) show(pinned, false); else clear(); }
  function pin(el) {
    if (pinned === el) { pinned = null; document.body.classList.remove("pinned"); clear(); return; }
    pinned = el;
    document.body.classList.add("pinned");
    show(el, true);
  }

  [torchPane, flaxPane].forEach(function (pane) {
    pane.addEventListener("mouseover", function (event) {
      var el = event.target.closest(".line");
      if (el && !pinned) show(el, false);
    });
    pane.addEventListener("mouseleave", restore);
    pane.addEventListener("click", function (event) {
      if (event.target.closest("button")) return;
      var el = event.target.closest(".line");
      if (el) { setCursor(pane, el); pin(el); }
    });
    pane.addEventListener("keydown", function (event) {
      var lines = pane.querySelectorAll(".line");
      var current = pane.querySelector(".line.cursor");
      var index = current ? Array.prototype.indexOf.call(lines, current) : -1;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        var next = lines[Math.max(0, Math.min(lines.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)))];
        setCursor(pane, next);
        next.scrollIntoView({block: "nearest"});
        if (!pinned) show(next, true);
        event.preventDefault();
      } else if ((event.key === "Enter" || event.key === " ") && current && event.target === pane) {
        pin(current);
        event.preventDefault();
      }
    });
  });
  function setCursor(pane, el) {
    var old = pane.querySelector(".line.cursor");
    if (old) old.classList.remove("cursor");
    el.classList.add("cursor");
    pane.setAttribute("aria-activedescendant", el.id);
  }

  // rule codes open the rule's explanation in the side panel
  var panel = document.getElementById("panel");
  var opener = null;
  function openRule(code, from) {
    var article = document.getElementById("rule-" + code);
    if (!article) return false;
    Array.prototype.forEach.call(panel.querySelectorAll(".rule-doc"), function (a) { a.hidden = a !== article; });
    panel.hidden = false;
    panel.setAttribute("data-open", code);
    opener = from || null;
    var heading = article.querySelector(".rule-title");
    if (heading) heading.focus();
    return true;
  }
  function closePanel() {
    panel.hidden = true;
    panel.removeAttribute("data-open");
    if (opener) opener.focus();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.rule");
    if (button) { openRule(button.getAttribute("data-rule"), button); event.stopPropagation(); }
  });
  panel.querySelector(".close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    if (!panel.hidden) closePanel();
    else if (pinned) { pinned = null; document.body.classList.remove("pinned"); clear(); }
  });
  window.torch2flax = {openRule: openRule, blocks: blocks};
})();
