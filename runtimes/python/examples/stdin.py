# Reads a name from stdin and greets it: exercises stdin forwarding.
name = input().strip()
print(f"Hello, {name}!")
