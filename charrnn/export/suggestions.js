// Suggestions shown inline at the cursor, as selected text, for the writing pages (the
// served one and an exported one): Tab asks `ask(at)` for {options, note}; up and down
// choose, Tab or Enter take one, Esc dismisses; any other key dismisses it and does what
// it does. Returns {dismiss}, for a page that changes the text itself.
function inlineSuggestions(text, say, ask) {
  let offer = null;  // {at, end, options, index, note}

  function show() {
    const option = offer.options[offer.index];
    text.setRangeText(option, offer.at, offer.end, "select");
    offer.end = offer.at + option.length;
    say(`suggestion ${offer.index + 1} of ${offer.options.length}: ↑ ↓ choose, Tab or Enter take it, Esc dismisses${offer.note}`);
  }

  function dismiss() {
    if (!offer) return;
    text.setRangeText("", offer.at, offer.end, "end");
    offer = null;
    say("");
  }

  function accept() {
    text.setSelectionRange(offer.end, offer.end);
    offer = null;
    say("taken");
  }

  async function suggest() {
    const at = text.selectionStart;
    say("thinking…");
    try {
      const {options, note} = await ask(at);
      const unique = [...new Set(options.filter((c) => c.length > 0))];
      if (!unique.length) { say(`no suggestion this time; press Tab again${note}`); return; }
      if (text.selectionStart !== at || text.selectionEnd !== at) { say(""); return; }  // moved on
      offer = {at, end: at, options: unique, index: 0, note};
      show();
    } catch (e) { say(e.message, true); }
  }

  text.addEventListener("keydown", (event) => {
    if (offer) {
      if (event.key === "Tab" || event.key === "Enter") { event.preventDefault(); accept(); return; }
      if (event.key === "Escape") { event.preventDefault(); dismiss(); return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        offer.index = (offer.index + step + offer.options.length) % offer.options.length;
        show();
        return;
      }
      if (["Shift", "Control", "Alt", "Meta"].includes(event.key)) return;
      if (event.key === "Backspace" || event.key === "Delete") {  // taking it back is the deletion
        event.preventDefault();
        dismiss();
        return;
      }
      dismiss();
      return;
    }
    if (event.key === "Tab" && !event.shiftKey) { event.preventDefault(); suggest(); }
  });
  text.addEventListener("mousedown", dismiss);
  return {dismiss};
}
