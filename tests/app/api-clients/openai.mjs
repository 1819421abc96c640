// The official `openai` npm client against Ponder's local API: models, chat and
// completions, streaming and not, and an error. Run by tests/app/test-api:
//   node openai.mjs BASE_URL MODEL
// Greedy sampling, so the streamed text must equal the non-streamed text. Exits 1 with a
// message on the first mismatch.
import OpenAI from 'openai';

const [base, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'not-needed', maxRetries: 0 });

function check(condition, message) {
    if (!condition) {
        console.error(`openai client: ${message}`);
        process.exit(1);
    }
}

const models = await client.models.list();
check(models.data.some((m) => m.id === model && m.owned_by === 'ponder'), `${model} not in /v1/models`);

const request = {
    model,
    messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: [{ type: 'text', text: 'Name a colour.' }] },
    ],
    temperature: 0,
    max_tokens: 20,
};
const full = await client.chat.completions.create(request);
const message = full.choices[0].message;
check(full.object === 'chat.completion' && full.model === model, 'chat.completion header fields');
check(typeof message.content === 'string' && message.role === 'assistant', 'message fields');
check(['stop', 'length'].includes(full.choices[0].finish_reason), 'finish_reason');
check(full.usage.total_tokens === full.usage.prompt_tokens + full.usage.completion_tokens, 'usage sum');

const stream = await client.chat.completions.create({
    ...request,
    stream: true,
    stream_options: { include_usage: true },
});
let content = '';
let reasoning = '';
let finish = null;
let usage = null;
for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? '';
    reasoning += choice.delta.reasoning_content ?? '';
    if (choice.finish_reason) finish = choice.finish_reason;
}
check(content === message.content, `streamed content ${JSON.stringify(content)} != ${JSON.stringify(message.content)}`);
check(reasoning === message.reasoning_content, 'streamed reasoning differs');
check(finish === full.choices[0].finish_reason, 'streamed finish_reason differs');
check(usage && usage.completion_tokens === full.usage.completion_tokens, 'streamed usage differs');

const completion = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
const completionStream = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 12, temperature: 0, stream: true,
});
let text = '';
for await (const chunk of completionStream) text += chunk.choices[0]?.text ?? '';
check(text === completion.choices[0].text, 'streamed completion differs');
check(completion.usage.completion_tokens <= 12, 'completion max_tokens');

// Reasoning controls. The closing the engine writes ("\n</think>\n\n") counts as reasoning
// through "</think>": 2 tokens in R1's vocabulary.
const details = (response) => response.usage.completion_tokens_details ?? {};
check(Number.isInteger(details(full).reasoning_tokens) &&
      details(full).reasoning_tokens <= full.usage.completion_tokens, 'usage: reasoning_tokens');
check(usage.completion_tokens_details?.reasoning_tokens === details(full).reasoning_tokens,
      'streamed usage: reasoning_tokens differs');
const none = await client.chat.completions.create({ ...request, max_tokens: 24, reasoning_effort: 'none' });
check(details(none).reasoning_tokens === 2, `reasoning_effort none: ${JSON.stringify(none.usage)}`);
check((none.choices[0].message.reasoning_content ?? '').trim() === '', 'reasoning_effort none: reasoning written');
const budget = await client.chat.completions.create({ ...request, max_tokens: 24, reasoning: { max_tokens: 4 } });
check(details(budget).reasoning_tokens === 6, `reasoning.max_tokens 4: ${JSON.stringify(budget.usage)}`);
for (const bad of [{ reasoning_effort: 'extreme' }, { reasoning: { effort: 'max' } }, { reasoning: 'high' }]) {
    try {
        await client.chat.completions.create({ ...request, ...bad });
        check(false, `accepted ${JSON.stringify(bad)}`);
    } catch (error) {
        check(error instanceof OpenAI.APIError && error.status === 400 && /reasoning/.test(error.message),
              `${JSON.stringify(bad)}: ${error}`);
    }
}

try {
    await client.chat.completions.create({ ...request, model: 'no-such-model' });
    check(false, 'an unknown model was accepted');
} catch (error) {
    check(error instanceof OpenAI.APIError && error.status === 404, `unknown model: ${error}`);
}
console.log('openai client: ok');
