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

// Rule form: show only the inputs of each row's chosen type; add and remove rows
// in place (without this file every group shows and "Add" submits the form).
function showChosenStep(row) {
  const select = row.querySelector("[data-step-type]");
  for (const group of row.querySelectorAll("[data-step-params]")) {
    group.hidden = group.dataset.stepParams !== select.value;
  }
}

function renumberSteps(list) {
  list.querySelectorAll("[data-step-number]").forEach((number, index) => {
    number.textContent = String(index + 1);
  });
}

function enhanceStepRow(row, list) {
  row.querySelector("[data-step-type]").addEventListener("change", () => showChosenStep(row));
  const remove = row.querySelector("[data-step-remove]");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button-secondary";
  button.textContent = remove.labels[0].textContent;
  button.addEventListener("click", () => {
    row.remove();
    renumberSteps(list);
  });
  remove.parentElement.replaceWith(button);
  showChosenStep(row);
}

function enhanceSteps() {
  for (const steps of document.querySelectorAll("[data-steps]")) {
    const list = steps.querySelector("[data-step-list]");
    const template = steps.querySelector("template[data-step-template]");
    const add = steps.querySelector("[data-step-add]");
    let next = 1000;
    list.querySelectorAll("[data-step-row]").forEach((row) => enhanceStepRow(row, list));
    add.addEventListener("click", (event) => {
      event.preventDefault();
      const html = template.innerHTML.replaceAll("__i__", String(next++));
      const holder = document.createElement("div");
      holder.innerHTML = html;
      const row = holder.querySelector("[data-step-row]");
      list.append(row);
      enhanceStepRow(row, list);
      renumberSteps(list);
      row.querySelector("[data-step-type]").focus();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  scrollThreadToNewest();
  showCharacterCounts();
  enhanceSteps();
});
