import sys

from greetings import greet

names = sys.argv[1:] or ["world"]
for name in names:
    print(greet(name))
