import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refusal, sniffImage } from '../../src/web/images.js';
import { renderMarkdown } from '../../src/web/markdown.js';
import { mergeHits } from '../../src/web/site.js';

describe('web: Markdown is sanitised on the server', () => {
  it('no script, no event handler attribute, no javascript: or data: URL survives', () => {
    const html = renderMarkdown(
      [
        '# Hi',
        '<script>alert(1)</script>',
        '<img src="x" onerror="alert(2)">',
        '[click](javascript:alert(3)) [ok](https://example.org/a)',
        '<a href="JaVaScRiPt:alert(4)">x</a> <a href="java&#x09;script:alert(5)">y</a>',
        '![i](data:image/svg+xml;base64,PHN2Zz4=) <iframe src="https://evil"></iframe> <svg onload="alert(6)"></svg>',
        '<div style="background:url(javascript:alert(7))" onclick="alert(8)">d</div>',
      ].join('\n\n'),
    );
    assert.ok(!/<script/i.test(html), html);
    assert.ok(!/\son\w+\s*=/i.test(html), html);
    assert.ok(!/javascript:/i.test(html), html);
    assert.ok(!/data:/i.test(html), html);
    assert.ok(!/<iframe|<svg|style=/i.test(html), html);
    assert.match(html, /<h1>Hi<\/h1>/);
    assert.match(html, /<a href="https:\/\/example.org\/a" rel="nofollow noopener noreferrer">ok<\/a>/);
  });
});

describe('web: images are recognised by their bytes', () => {
  it('takes JPEG, PNG, GIF, WebP; refuses SVG, video and text whatever their name', () => {
    assert.equal(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0])), 'jpeg');
    assert.equal(sniffImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])), 'png');
    assert.equal(sniffImage(Buffer.from('GIF89a....')), 'gif');
    assert.equal(sniffImage(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');
    assert.equal(sniffImage(svg), null);
    assert.match(refusal('cat.png', svg), /not a JPEG, PNG, GIF or WebP image by its contents/);
    const mp4 = Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d]);
    assert.equal(sniffImage(mp4), null);
    assert.match(refusal('clip.jpg', mp4), /is a video/);
  });
});

describe('web: search merge', () => {
  it('keeps local hits first, adds the L1s new ones once, drops blogs deleted here', () => {
    const hit = (id: string) => ({ blog: { id } as never, snippet: id });
    const out = mergeHits([hit('a'), hit('b')], [hit('b'), hit('c'), hit('d'), hit('c')], (id) => id === 'd');
    assert.deepEqual(out.map((h) => h.snippet), ['a', 'b', 'c']);
  });
});
