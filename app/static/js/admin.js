/* The staff pages' behaviour that Flask-Admin's stock templates put in inline event handlers,
   which the Content-Security-Policy blocks. Bound by event delegation to data- attributes set by
   the overridden templates in app/templates/admin/. */
(function () {
  "use strict";

  // The stock menu button's English label, in the page's language.
  var menuLabel = document.querySelector('meta[name="menu-label"]');
  var toggler = document.querySelector(".navbar-toggler");
  if (menuLabel && toggler) {
    toggler.setAttribute("aria-label", menuLabel.getAttribute("content"));
  }

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

/* Date-time fields that can be typed into. Flask-Admin's picker (bootstrap-daterangepicker
   1.3) reads the field on every key and writes its own idea of the date back at once, so that
   typing `2026-12-01 00:00` gives `0002-01-01 00:00...`; and closing it after a mere focus fills
   an empty field with the current time. Here the picker only follows what is typed (once it is
   a whole date), and only writes into the field when a date or time was picked in it.

   The picker's handlers are bound when Flask-Admin creates each picker (on jQuery's ready, for
   inline forms later), so its methods are changed before that: on DOMContentLoaded, which comes
   after every script of the page has run and before jQuery's (deferred) ready callbacks. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var $ = window.jQuery;
  if (!$ || !$.fn.daterangepicker || !window.moment) {
    return;
  }
  var probe = $("<input>").daterangepicker({ singleDatePicker: true });
  var picker = probe.data("daterangepicker");
  var proto = Object.getPrototypeOf(picker);
  picker.remove();
  if (proto.luffyTypable) {
    return;
  }
  proto.luffyTypable = true;

  var FORMATS = ["YYYY-MM-DD HH:mm:ss", "YYYY-MM-DD HH:mm", "YYYY-MM-DD"];

  function parsed(text, format) {
    var moment = window.moment(String(text).trim(), [format].concat(FORMATS), true);
    return moment.isValid() ? moment : null;
  }

  proto.updateFromControl = function () {
    if (!this.element.is("input") || !this.element.val().length) {
      return;
    }
    var text = this.element.val();
    var parts = this.singleDatePicker ? [text] : text.split(this.separator);
    var start = parsed(parts[0], this.format);
    var end = parts.length === 2 ? parsed(parts[1], this.format) : start;
    if (!start || !end || end.isBefore(start)) {
      return; // half typed: leave the text as it is
    }
    this.startDate = start;
    this.endDate = end;
    this.oldStartDate = start.clone();
    this.oldEndDate = end.clone();
    this.updateCalendars();
  };

  ["clickDate", "updateTime", "clickApply", "clickRange", "inputsChanged"].forEach(function (name) {
    var original = proto[name];
    proto[name] = function () {
      this.luffyPicked = true;
      return original.apply(this, arguments);
    };
  });

  var hide = proto.hide;
  proto.hide = function () {
    if (this.isShowing && !this.luffyPicked) {
      this.oldStartDate = this.startDate.clone(); // nothing picked: the field keeps its text
      this.oldEndDate = this.endDate.clone();
    }
    this.luffyPicked = false;
    return hide.apply(this, arguments);
  };
});

/* A form in tabs (app/admin/tabs.py): a field refused by the server, or by the browser before
   sending, in a tab that is not shown opens that tab, so its message is seen. */
(function () {
  "use strict";

  function showTabOf(element) {
    var pane = element.closest && element.closest(".tab-pane");
    if (!pane || pane.classList.contains("active")) {
      return;
    }
    // At once, not through Bootstrap's fade (which shows the pane only after a transition):
    // the browser focuses the refused field right after this.
    Array.prototype.forEach.call(pane.parentNode.children, function (other) {
      other.classList.remove("active", "show");
    });
    pane.classList.add("active", "show");
    var link = document.getElementById(pane.id + "-link");
    if (link) {
      var tabs = link.closest(".nav").querySelectorAll(".nav-link");
      Array.prototype.forEach.call(tabs, function (other) {
        other.classList.remove("active");
        other.setAttribute("aria-selected", "false");
      });
      link.classList.add("active");
      link.setAttribute("aria-selected", "true");
    }
  }

  // Before the browser checks the form (which happens after the click), so that the field it
  // refuses is on screen and can take the focus.
  document.addEventListener(
    "click",
    function (event) {
      var button = event.target instanceof Element && event.target.closest("[type=submit]");
      if (!button || !button.form || button.formNoValidate || button.form.noValidate) {
        return;
      }
      var refused = button.form.querySelector(
        "input:invalid, select:invalid, textarea:invalid"
      );
      if (refused) {
        showTabOf(refused);
      }
    },
    true
  );
  document.addEventListener(
    "invalid",
    function (event) {
      showTabOf(event.target);
    },
    true
  );

  document.addEventListener("DOMContentLoaded", function () {
    var refused = document.querySelector(".tab-pane .is-invalid, .tab-pane .invalid-feedback");
    if (refused) {
      showTabOf(refused);
    }
  });
})();
