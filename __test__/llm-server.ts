/**
 * A small HTTP server on 127.0.0.1 that answers in the OpenAI and Anthropic wire formats with
 * responses from `fixtures/llm/` (no network), and records every request body, so the tests can
 * drive the real SDK clients and check what went over the wire. Closed when the test ends.
 */
import type { ExecutionContext } from 'ava'
import * as fs from 'node:fs'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { fixture } from './helpers.ts'

/** One request as the server received it. */
export interface Received {
  method: string
  path: string
  body: Record<string, unknown>
}

export interface LlmServer {
  url: string
  /** Every request received, in order. */
  received: Received[]
  /** Queues a response (a fixture name under `fixtures/llm/`, or an object) for a path. */
  reply(path: '/v1/chat/completions' | '/v1/responses' | '/v1/messages', response: string | object): void
  /** The real OpenAI client, pointed at this server. */
  openai(): OpenAI
  /** The real Anthropic client, pointed at this server. */
  anthropic(): Anthropic
}

/** A recorded response from `fixtures/llm/<name>.json`. */
export function recorded(name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(fixture(`llm/${name}.json`), 'utf8')) as Record<string, unknown>
}

/** Starts a server for one test; it is closed in `t.teardown`. */
export async function llmServer(t: ExecutionContext): Promise<LlmServer> {
  const queues = new Map<string, object[]>()
  const received: Received[] = []
  const server = http.createServer((req, res) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (data += chunk))
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]
      received.push({
        method: req.method ?? '',
        path,
        body: data === '' ? {} : (JSON.parse(data) as Record<string, unknown>),
      })
      const next = queues.get(path)?.shift()
      if (next === undefined) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: `no response queued for ${path}`, type: 'server_error' } }))
        return
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_test_${received.length}` })
      res.end(JSON.stringify(next))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    received,
    reply(path, response) {
      const body = typeof response === 'string' ? recorded(response) : response
      queues.set(path, [...(queues.get(path) ?? []), body])
    },
    openai: () => new OpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1`, maxRetries: 0 }),
    anthropic: () => new Anthropic({ apiKey: 'sk-ant-test', baseURL: url, maxRetries: 0 }),
  }
}
