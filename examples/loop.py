print("start", flush=True)
while True:
    pass
