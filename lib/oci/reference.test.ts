import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from './errors.ts';
import { formatReference, parseReference, parseRepository } from './reference.ts';

const digest = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['registry.example.com/team/app', { registry: 'registry.example.com', name: 'team/app' }],
    ['registry.example.com/team/app:v1.2.3', { registry: 'registry.example.com', name: 'team/app', tag: 'v1.2.3' }],
    ['127.0.0.1:5000/app:1.0.0', { registry: '127.0.0.1:5000', name: 'app', tag: '1.0.0' }],
    ['localhost:5000/a/b/c', { registry: 'localhost:5000', name: 'a/b/c' }],
    [`reg.io/app@${digest}`, { registry: 'reg.io', name: 'app', digest }],
    [`reg.io:443/app:v1@${digest}`, { registry: 'reg.io:443', name: 'app', tag: 'v1', digest }],
    ['oci://ghcr.io/org/my_app.v2:latest', { registry: 'ghcr.io', name: 'org/my_app.v2', tag: 'latest' }],
    ['REGISTRY.example.com/app', { registry: 'registry.example.com', name: 'app' }],
  ])('parses %s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each([
    ['app:v1', /no registry host/],
    ['nginx', /no registry host/],
    ['reg.io/', /invalid repository path/],
    ['reg.io/App', /invalid repository path/],
    ['reg.io/a//b', /invalid repository path/],
    ['reg.io/a-/b', /invalid repository path/],
    ['reg.io/app:-bad', /invalid tag/],
    ['reg.io/app@sha256:abc', /invalid digest/],
    ['reg_io/app', /invalid registry host/],
  ])('refuses %s', (input, message) => {
    expect(() => parseReference(input)).toThrow(InvalidReferenceError);
    expect(() => parseReference(input)).toThrow(message);
  });

  it('formats what it parses', () => {
    for (const text of ['reg.io:5000/a/b:v1', `reg.io/a@${digest}`, `reg.io/a:v1@${digest}`, 'reg.io/a']) {
      expect(formatReference(parseReference(text))).toBe(text);
    }
  });

  it('parses a repository without tag', () => {
    expect(parseRepository('127.0.0.1:5000/team/app')).toEqual({ registry: '127.0.0.1:5000', name: 'team/app' });
  });
});
