// smsdesk inbox niceties; every page works without this file.
"use strict";

function scrollThreadToNewest() {
  const thread = document.querySelector("[data-thread]");
  if (thread) {
    thread.scrollTop = thread.scrollHeight;
  }
}

function showCharacterCounts() {
  for (const area of document.querySelectorAll("textarea[data-counter]")) {
    const output = document.getElementById(area.dataset.counter);
    if (!output) {
      continue;
    }
    const update = () => {
      const count = Array.from(area.value).length;
      output.textContent = count === 1 ? "1 character" : `${count} characters`;
    };
    area.addEventListener("input", update);
    update();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  scrollThreadToNewest();
  showCharacterCounts();
});
