/** Test helper: copies standard input to the file named by the argument. */

if (import.meta.main) {
  const file = await Deno.open(Deno.args[0], { write: true, create: true });
  await Deno.stdin.readable.pipeTo(file.writable);
}
