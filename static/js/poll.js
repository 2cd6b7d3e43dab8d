// Keeps a server-rendered fragment up to date without a framework.
//
// An element with data-poll-url is replaced, every second, by the HTML that URL returns
// (a template partial). The server leaves data-poll-url off once there is nothing left
// to wait for, which ends the polling. Loaded from 'self', so the CSP allows it.
(function () {
  "use strict";

  const INTERVAL_MS = 1000;

  function poll(element) {
    window.setTimeout(async function () {
      let html;
      try {
        const response = await fetch(element.dataset.pollUrl, { credentials: "same-origin" });
        if (!response.ok) {
          throw new Error(`status ${response.status}`);
        }
        html = await response.text();
      } catch (error) {
        // A deploy or a dropped connection: try again on the next tick.
        poll(element);
        return;
      }
      const template = document.createElement("template");
      template.innerHTML = html.trim();
      const replacement = template.content.firstElementChild;
      if (replacement === null) {
        element.remove();
        return;
      }
      element.replaceWith(replacement);
      if (replacement.dataset.pollUrl) {
        poll(replacement);
      }
    }, INTERVAL_MS);
  }

  document.querySelectorAll("[data-poll-url]").forEach(poll);
})();
