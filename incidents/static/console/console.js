"use strict";
// Copy buttons (the webhook URL of a connection): <button data-copy="text">.
document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) {
        return;
    }
    const text = button.dataset.copy;
    const label = button.textContent;
    const done = function () {
        button.textContent = "Copied";
        window.setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
        return;
    }
    const input = button.parentElement.querySelector("input");
    if (input) {
        input.select();
        document.execCommand("copy");
        done();
    }
});
// A read-only URL field selects itself when focused, ready to copy.
document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input.webhook-url")) {
        event.target.select();
    }
});
