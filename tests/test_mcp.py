"""The app as an MCP server (`python app.py --mcp`, or GRADIO_MCP_SERVER=True): its tools, through the `mcp`
package's own streamable HTTP client, answer as the API does through gradio_client."""
from __future__ import annotations

import ast
import asyncio
import base64
import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from gradio_client import Client, handle_file
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from src import data
from src.strokes import canvas_png
from tests.app_server import Server, server_env, start_server

TOOLS = {"generate", "generate_tokens", "classify", "compare", "fill_blank", "explain_digit", "explain_blank"}


@pytest.fixture(scope="module")
def mcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server, _ = start_server(log_path=tmp_path_factory.mktemp("mcp") / "app.log", args=("--mcp",))
    yield server
    server.stop()


def ask(url: str, calls: list[tuple[str, dict]]) -> tuple[list[types.Tool], list[types.CallToolResult]]:
    """Open an MCP session on the app at `url`: its tools, and the result of each (tool, arguments) call."""
    async def session_run():
        async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = (await session.list_tools()).tools
                return tools, [await session.call_tool(name, arguments) for name, arguments in calls]

    return asyncio.run(session_run())


def answer(result: types.CallToolResult) -> object:
    """A tool's one text answer as a Python value (gradio sends str() of each output)."""
    assert not result.isError and len(result.content) == 1, result
    text = result.content[0].text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):  # plain text, such as a joke
        return text


@pytest.mark.data
def test_mcp_tools_answer_as_the_api_does(mcp_server, tmp_path):
    images, labels = data.mnist_tensors(train=False)
    png = canvas_png(images[0].numpy(), 300, (50, 50), False).getvalue()
    (tmp_path / "seven.png").write_bytes(png)
    joke = {"prompt": "Why did the chicken", "temperature": 0.9, "top_k": 0, "top_p": 1.0, "max_words": 30,
            "seed": 1234}
    image = "data:image/png;base64," + base64.b64encode(png).decode()

    blank = {"text": "What do you call a ___ with no eyes?"}
    tools, (classified, written, filled) = ask(mcp_server.url, [("classify", {"image": image}), ("generate", joke),
                                                                ("fill_blank", blank)])

    assert TOOLS <= {tool.name for tool in tools}
    for tool in tools:  # typed docstrings: every argument is described
        for name, schema in tool.inputSchema["properties"].items():
            assert schema.get("description"), f"{tool.name}({name}) has no description"
    client = Client(mcp_server.url, verbose=False)
    expected = client.predict(handle_file(str(tmp_path / "seven.png")), api_name="/classify")
    assert expected["label"] == str(int(labels[0]))
    assert answer(classified) == expected
    assert answer(written) == client.predict(*joke.values(), api_name="/generate")
    tops = [label["label"] for label in client.predict(blank["text"], api_name="/fill_blank")[:5]]
    assert not filled.isError
    said = " ".join(part.text for part in filled.content)
    assert all(f"'{word}'" in said for word in tops), (tops, said)
    assert not re.search(r"warn|Traceback", mcp_server.log(), re.I), mcp_server.log()


def test_gradio_mcp_server_variable_turns_it_on(tmp_path):
    server, _ = start_server(log_path=tmp_path / "app.log", env=server_env({"GRADIO_MCP_SERVER": "True"}))
    try:
        schema = json.load(urllib.request.urlopen(server.url + "gradio_api/mcp/schema", timeout=10))
    finally:
        server.stop()
    assert TOOLS <= {tool["name"] for tool in schema}
