// Local stand-in for `readLines` from https://deno.land/std@0.186.0/io/mod.ts.
//
// DSPy's sandbox runner imports that URL at start-up. Fetching it needs a host that is
// unreachable offline and would pull remote code into every run, so the benchmark's
// import map points the URL here instead. Same contract as the std version: an async
// iterator of the reader's lines, without the trailing "\n" or "\r\n".

interface Reader {
  read(p: Uint8Array): Promise<number | null>;
}

export async function* readLines(
  reader: Reader,
  decoderOpts?: { encoding?: string; fatal?: boolean; ignoreBOM?: boolean },
): AsyncIterableIterator<string> {
  const decoder = new TextDecoder(decoderOpts?.encoding, decoderOpts);
  const chunk = new Uint8Array(64 * 1024);
  let pending = "";
  while (true) {
    const n = await reader.read(chunk);
    if (n === null) break;
    pending += decoder.decode(chunk.subarray(0, n), { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) !== -1) {
      let line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      yield line;
    }
  }
  pending += decoder.decode();
  if (pending.length > 0) yield pending.endsWith("\r") ? pending.slice(0, -1) : pending;
}
