// The settlement's live total: as a coupon is chosen, ask the quote API (the signed-in page's
// session, with the page's CSRF token) and show what it answers, so "Update total" is not
// needed (it stays for pages without JavaScript). The server checks everything again at Pay.
(() => {
  const form = document.querySelector("form.settlement-form[data-quote-url]");
  if (!form) return;

  const token = form.querySelector("input[name=csrf_token]").value;
  const expected = form.querySelector("input[name=expected_amount]");
  const siteSelect = form.querySelector("#global_coupon");
  const problem = form.querySelector(".quote-problem");
  const payButton = form.querySelector(".pay-button");
  const lines = [...form.querySelectorAll(".settlement-line")];
  let asked = 0; // only the latest answer counts when choices change quickly

  // "1048.5" -> "¥1,048.50", as the pages' `money` filter writes it (strings, never floats).
  const money = (text) => {
    const [whole, cents = ""] = String(text).split(".");
    return `¥${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${(cents + "00").slice(0, 2)}`;
  };
  const idOrNull = (select) => (select && select.value ? Number(select.value) : null);

  const body = () => ({
    items: lines.map((line) => ({
      item_type: line.dataset.itemType,
      item_id: Number(line.dataset.itemId),
      price_policy_id: Number(line.dataset.policyId),
      coupon_record_id: idOrNull(line.querySelector("select[data-line-coupon]")),
    })),
    global_coupon_record_id: idOrNull(siteSelect),
  });

  const show = (quote) => {
    let courseDiscount = 0;
    for (const item of quote.items) {
      const line = lines.find(
        (l) => l.dataset.itemType === item.item_type && Number(l.dataset.itemId) === item.item_id,
      );
      if (!line) continue;
      line.querySelector(".line-subtotal").textContent = money(item.subtotal);
      line.querySelector(".line-discount-amount").textContent = money(item.discount);
      line.querySelector(".line-discount").classList.toggle("d-none", item.discount === "0.00");
      courseDiscount += Math.round(Number(item.discount) * 100);
    }
    const cents = String(courseDiscount).padStart(3, "0");
    form.querySelector(".summary-course-discount").textContent = money(
      `${cents.slice(0, -2)}.${cents.slice(-2)}`,
    );
    form.querySelector(".summary-global-discount").textContent = money(quote.global_discount);
    form.querySelector(".settlement-amount").textContent = money(quote.amount);
    expected.value = quote.amount;
  };

  const say = (message) => {
    problem.textContent = message || "";
    problem.hidden = !message;
  };

  const update = async () => {
    const mine = ++asked;
    payButton.disabled = true;
    try {
      const response = await fetch(form.dataset.quoteUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": token,
        },
        body: JSON.stringify(body()),
      });
      const answer = await response.json();
      if (mine !== asked) return;
      if (response.ok) {
        show(answer.data);
        say("");
      } else {
        say(response.status === 409 ? form.dataset.refused : form.dataset.failed);
      }
    } catch {
      if (mine === asked) say(form.dataset.failed);
    } finally {
      if (mine === asked) payButton.disabled = false;
    }
  };

  for (const select of form.querySelectorAll("select.coupon-select")) {
    select.addEventListener("change", update);
  }
  form.querySelector(".update-total").hidden = true; // the total follows the choices now
  form.classList.add("quote-live");
})();
