// The pre-rendered homepage's header for whoever is looking: the page is one file for everyone,
// so it is rendered signed out; this asks GET /api/v1/me (with the page session's cookie) who is
// signed in and how many lines their cart holds, and puts the signed-in links of
// <template id="account-signed-in"> in place of the sign-in ones. Without JavaScript, for a
// visitor, or when the API does not answer, the header stays as it was rendered.
(function () {
  "use strict";
  var area = document.querySelector("[data-account-area]");
  var signedIn = document.getElementById("account-signed-in");
  if (!area || !signedIn || !window.fetch) {
    return;
  }
  fetch(area.getAttribute("data-me-url"), {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  })
    .then(function (response) {
      return response.ok ? response.json() : null;
    })
    .then(function (body) {
      if (!body || body.code !== 1000 || !body.data) {
        return;
      }
      var me = body.data;
      if (me.cart_count > 0) {
        document.querySelectorAll("[data-cart-count]").forEach(function (count) {
          count.textContent = String(me.cart_count);
          count.hidden = false;
        });
      }
      if (!me.user) {
        return;
      }
      var links = signedIn.content.cloneNode(true);
      links.querySelector("[data-username]").textContent = me.user.username;
      area.replaceChildren(links);
      area.setAttribute("data-signed-in", "");
    })
    .catch(function () {
      // The signed-out header stays: every link it holds still works.
    });
})();
