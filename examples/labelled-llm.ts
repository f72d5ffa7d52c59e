// A stand-in for the LLM in the examples: answers each request with its labelled tool call (or
// with text when the label is "no tool"), and with a short text once the tool results are in.
import { newToolCallId, type CascadeLlm, type Example } from '../index'

export function labelledLlm(labels: Map<string, Example>): CascadeLlm<'openai'> {
  return {
    format: 'openai',
    call: async (req) => {
      const last = req.messages.at(-1) as { role?: unknown; content?: unknown }
      const ex = labels.get(String(last.content))
      if (req.toolChoice === 'none' || last.role === 'tool' || ex === undefined || ex.tool === null) {
        const text = ex?.tool === null ? 'I can only help with the assistant tools.' : 'Done.'
        return { messages: [{ role: 'assistant', content: text }], toolCalls: [], text }
      }
      const id = newToolCallId('openai')
      const args = ex.args ?? {}
      return {
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id, type: 'function', function: { name: ex.tool, arguments: JSON.stringify(args) } }],
          },
        ],
        toolCalls: [{ id, tool: ex.tool, args }],
        text: '',
      }
    },
  }
}
