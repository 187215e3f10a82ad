// Reads a name from stdin and greets it: exercises stdin forwarding.
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const name = Buffer.concat(chunks).toString("utf8").split("\n")[0].trim();
  console.log(`Hello, ${name}!`);
});
