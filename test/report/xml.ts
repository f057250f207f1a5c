// A strict little well-formedness check for the XML we emit (no DTDs, CDATA or
// comments): every tag closed in order, attributes quoted, '&' and '<' escaped.
export interface XmlElement { name: string; attrs: Record<string, string>; children: XmlElement[]; text: string }

const entity = /&(?!(amp|lt|gt|quot|apos|#\d+);)/;
const decode = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

export function parseXml(xml: string): XmlElement {
  const body = xml.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/, '');
  if (body === xml) throw new Error('missing XML declaration');
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/g;
  const root: XmlElement = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let pos = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    if (m.index !== pos) throw new Error(`not well-formed at ${pos}: ${JSON.stringify(body.slice(pos, pos + 60))}`);
    pos = re.lastIndex;
    const top = stack[stack.length - 1]!;
    if (m[5] !== undefined) {
      if (entity.test(m[5])) throw new Error(`unescaped & in text ${JSON.stringify(m[5].slice(0, 60))}`);
      top.text += decode(m[5]);
      continue;
    }
    const [, close, name, rawAttrs, selfClose] = m;
    if (close) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs!.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
      if (entity.test(a[2]!)) throw new Error(`unescaped & in attribute ${a[1]}`);
      if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      attrs[a[1]!] = decode(a[2]!);
    }
    const el: XmlElement = { name: name!, attrs, children: [], text: '' };
    top.children.push(el);
    if (!selfClose) stack.push(el);
  }
  if (pos !== body.length) throw new Error(`trailing garbage at ${pos}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root.children.length !== 1) throw new Error('more than one root element');
  return root.children[0]!;
}

export function findAll(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => findAll(c, name))];
}
