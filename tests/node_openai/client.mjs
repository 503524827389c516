// The official openai npm package, unmodified, pointed at charrnn serve: node client.mjs URL
// Prints one JSON object of what each call gave, for tests/test_openai_api.py to check.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2] + "/v1", apiKey: "unused", maxRetries: 0 });
const model = (await client.models.list()).data[0].id;
const made = await client.completions.create({ model, prompt: "the ", max_tokens: 40, seed: 3,
                                               temperature: 0.8 });
const several = await client.completions.create({ model, prompt: "the ", max_tokens: 20, n: 2,
                                                  seed: 5, logprobs: 2, stop: [" "] });
let streamed = "";
for await (const chunk of await client.completions.create({ model, prompt: "the ", max_tokens: 40,
                                                            seed: 3, temperature: 0.8, stream: true })) {
  streamed += chunk.choices[0].text;
}
const messages = [{ role: "user", content: "the dog " }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 30, seed: 4 });
let chatStreamed = "";
for await (const chunk of await client.chat.completions.create({ model, messages, max_tokens: 30,
                                                                 seed: 4, stream: true })) {
  chatStreamed += chunk.choices[0].delta.content ?? "";
}
let missing = null;
try {
  await client.completions.create({ model: "gpt-4", prompt: "the " });
} catch (error) {
  missing = { status: error.status, code: error.code, type: error.type };
}
console.log(JSON.stringify({
  model, text: made.choices[0].text, reason: made.choices[0].finish_reason, usage: made.usage,
  several: several.choices.map((c) => ({ text: c.text, reason: c.finish_reason,
                                         tokens: c.logprobs.tokens })),
  streamed, chat: chat.choices[0].message.content, chatStreamed, missing,
}));
