// What the pages of coloured text share: one span per character, and a tooltip that
// follows the mouse and says what `describe(index)` says of the character under it.
const shown = (c) => c === "\n" ? "⏎" : c === "\n\n" ? "¶" : c === " " ? "␠" : c === "" ? "∎" : c;

function characterSpans(container, chars) {
  const fragment = document.createDocumentFragment();
  const spans = chars.map((ch, i) => {
    const span = document.createElement("span");
    span.textContent = ch === "" ? "∎" : ch;
    span.dataset.index = i;
    fragment.append(span);
    return span;
  });
  container.append(fragment);
  return spans;
}

function hoverTips(container, tip, describe) {
  container.addEventListener("mouseover", (event) => {
    const index = event.target.dataset.index;
    if (index === undefined) return;
    tip.textContent = describe(Number(index));
    tip.style.display = "block";
  });
  container.addEventListener("mousemove", (event) => {
    tip.style.left = `${event.clientX + 14}px`;
    tip.style.top = `${event.clientY + 14}px`;
  });
  container.addEventListener("mouseout", () => { tip.style.display = "none"; });
}
