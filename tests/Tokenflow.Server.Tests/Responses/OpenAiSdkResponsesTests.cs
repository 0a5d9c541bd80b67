#pragma warning disable OPENAI001 // The Responses client is marked experimental in the SDK.
using System.ClientModel;
using OpenAI.Responses;

namespace Tokenflow.Server.Tests.Responses;

/// <summary>The official OpenAI .NET SDK's Responses client (2.15) against <c>/v1/responses</c>.</summary>
public sealed class OpenAiSdkResponsesTests
{
    [Fact]
    public async Task The_sdk_streams_a_response_in_sequence_and_retrieves_the_same_text()
    {
        await using var server = await TestServer.StartAsync();
        var client = new ResponsesClient(new ApiKeyCredential("unused"), new ResponsesClientOptions { Endpoint = new Uri(server.Address, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });
        var options = new CreateResponseOptions { Model = "sim", MaxOutputTokenCount = 16, StreamingEnabled = true, InputItems = { ResponseItem.CreateUserMessageItem("Hello") } };

        var text = string.Empty;
        var expected = 0;
        ResponseResult? final = null;
        await foreach (var update in await client.CreateResponseStreamingAsync(options))
        {
            Assert.Equal(expected++, update.SequenceNumber);
            switch (update)
            {
                case StreamingResponseOutputTextDeltaUpdate delta:
                    text += delta.Delta;
                    break;
                case StreamingResponseIncompleteUpdate incomplete:
                    final = incomplete.Response;
                    break;
                case StreamingResponseCompletedUpdate completed:
                    final = completed.Response;
                    break;
            }
        }

        Assert.NotNull(final);
        Assert.StartsWith("resp_", final.Id);
        Assert.Equal(ResponseStatus.Incomplete, final.Status);
        Assert.Equal(text, final.GetOutputText());
        Assert.Equal(16, final.Usage.OutputTokenCount);
        Assert.NotEmpty(text.Trim());

        var retrieved = (await client.GetResponseAsync(final.Id)).Value;
        Assert.Equal(text, retrieved.GetOutputText());
    }
}
