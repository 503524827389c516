// What rnn-writer (Robin Sloan's Atom plug-in, written for torch-rnn-server) does with a
// /generate reply, re-expressed in plain Node for tests/test_serve.py: the query built
// with encodeURIComponent, an error shown only from the reply's `message` ("Forbidden"
// means a bad API key), and a reply used only when its decoded start_text echo equals
// the text that was sent. The expressions on the reply are the plug-in's own.
//
// usage: node rnn_writer_client.js BASE_URL CASES_JSON
//   CASES_JSON: [{"text": ..., "n": ..., "key": ... or null}, ...]
// prints one JSON line per case: {"shown": error shown or null, "used": bool,
//                                 "suggestions": [...]}

async function suggest(base, text, n, key) {
  const query = "/generate?start_text=" + encodeURIComponent(text) + "&n=" + n;
  const headers = key ? { "x-api-key": key } : {};
  const body = await (await fetch(base + query, { headers })).json();
  if (body["message"]) {
    let shown;
    switch (body["message"]) {
      case "Network error communicating with endpoint":
        shown = "Looks like the server is offline.";
        break;
      case "Forbidden":
        shown = "That API key doesn't appear to be valid.";
        break;
      default:
        shown = "The server replied with this error:<pre>" + body["message"] + "</pre>";
    }
    return { shown, used: false, suggestions: [] };
  }
  const startTextForThisRequest = decodeURIComponent(body["start_text"]).replace(/\+/g, " ");
  const used = startTextForThisRequest == text;
  return { shown: null, used, suggestions: used ? body["completions"] : [] };
}

async function main() {
  const [base, casesJson] = process.argv.slice(2);
  for (const c of JSON.parse(casesJson)) {
    let result;
    try {
      result = await suggest(base, c.text, c.n, c.key);
    } catch (error) {  // what the plug-in would throw (URIError: malformed URI sequence)
      result = { thrown: String(error), used: false, suggestions: [] };
    }
    console.log(JSON.stringify(result));
  }
}

main();
