// torch2flax rules catalogue: the search box filters rules by code, name, summary or PyTorch name.
(function () {
  "use strict";
  var input = document.getElementById("search");
  var articles = Array.prototype.slice.call(document.querySelectorAll("article.rule-doc"));
  var links = Array.prototype.slice.call(document.querySelectorAll("nav.toc a[data-rule]"));
  var count = document.getElementById("shown");
  function filter() {
    var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    articles.forEach(function (article) {
      var text = article.getAttribute("data-search");
      var match = terms.every(function (t) { return text.indexOf(t) !== -1; });
      article.hidden = !match;
      if (match) shown++;
    });
    links.forEach(function (link) {
      link.parentNode.hidden = document.getElementById("rule-" + link.getAttribute("data-rule")).hidden;
    });
    Array.prototype.forEach.call(document.querySelectorAll("section.family"), function (family) {
      family.hidden = !family.querySelector("article.rule-doc:not([hidden])");
    });
    count.textContent = shown;
  }
  input.addEventListener("input", filter);
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input) { input.focus(); event.preventDefault(); }
    if (event.key === "Escape" && document.activeElement === input) { input.value = ""; filter(); }
  });
  if (location.hash.length > 1) { var target = document.getElementById(location.hash.slice(1)); if (target) target.scrollIntoView(); }
  filter();
})();
