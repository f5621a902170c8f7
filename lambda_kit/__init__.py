"""What every Lambda function of the kit shares, below both the model runtime and the web app.

    events/            the event readers (API Gateway REST and HTTP APIs, Function URLs, ALB)
    errors.py          the HTTP error family and its one JSON envelope
    http.py            plain request/response values
    base64_text.py     base64 as clients really send it
    content_encoding.py  gzip/deflate request bodies, capped
    settings.py        settings resolution: argument > environment > default

It imports no other project package, and no numpy or onnxruntime: the web function uses
it too.
"""
