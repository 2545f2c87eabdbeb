/* The staff pages' behaviour that Flask-Admin's stock templates put in inline event handlers,
   which the Content-Security-Policy blocks. Bound by event delegation to data- attributes set by
   the overridden templates in app/templates/admin/. */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }

    // "With selected" list actions (Flask-Admin's actions.js defines modelActions).
    var action = target.closest("[data-model-action]");
    if (action) {
      event.preventDefault();
      if (window.modelActions) {
        window.modelActions.execute(action.getAttribute("data-model-action"));
      }
      return;
    }

    // Buttons that ask before they submit (delete a row, approve a refund...).
    var confirming = target.closest("[data-confirm]");
    if (confirming && !window.confirm(confirming.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }

    // "Add <inline model>" under an inline list (Flask-Admin's form.js defines faForm).
    var adder = target.closest("[data-add-inline-field]");
    if (adder) {
      event.preventDefault();
      if (window.faForm) {
        window.faForm.addInlineField(adder, adder.getAttribute("data-add-inline-field"));
      }
      return;
    }

    // Links that only open a menu or pick a filter.
    var dead = target.closest('a[href="#"]');
    if (dead && (dead.matches(".filter") || dead.hasAttribute("data-toggle"))) {
      event.preventDefault();
    }
  });
})();
