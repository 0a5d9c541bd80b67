using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Tokenflow.Server.Tests.Durable;

public sealed class DurableConditionalReadTests
{
    private static async Task<(TestServer Server, string ETag)> StartWithStreamAsync()
    {
        var server = await TestServer.StartAsync();
        (await server.Client.PutAsync("/v1/durable/cached", new StringContent("[{\"n\":1}]", Encoding.UTF8, "application/json"))).Dispose();
        using var read = await server.Client.GetAsync("/v1/durable/cached?offset=-1");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        return (server, read.Headers.ETag!.Tag);
    }

    private static async Task<HttpStatusCode> ReadIfNoneMatchAsync(TestServer server, string ifNoneMatch)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/durable/cached?offset=-1");
        request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        using var response = await server.Client.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.NotModified)
        {
            Assert.Equal(string.Empty, await response.Content.ReadAsStringAsync());
        }

        return response.StatusCode;
    }

    [Fact]
    public async Task A_list_that_holds_the_current_etag_is_304()
    {
        var (server, etag) = await StartWithStreamAsync();
        await using (server)
        {
            Assert.Equal(HttpStatusCode.NotModified, await ReadIfNoneMatchAsync(server, $"\"other\", {etag}, \"another\""));
            Assert.Equal(HttpStatusCode.OK, await ReadIfNoneMatchAsync(server, "\"other\", \"another\""));
        }
    }

    [Fact]
    public async Task A_weak_tag_matches_by_the_weak_comparison()
    {
        var (server, etag) = await StartWithStreamAsync();
        await using (server)
        {
            Assert.Equal(HttpStatusCode.NotModified, await ReadIfNoneMatchAsync(server, $"W/{etag}"));
            Assert.Equal(HttpStatusCode.OK, await ReadIfNoneMatchAsync(server, "W/\"other\""));
        }
    }

    [Fact]
    public async Task A_star_matches_any_current_representation()
    {
        var (server, _) = await StartWithStreamAsync();
        await using (server)
        {
            Assert.Equal(HttpStatusCode.NotModified, await ReadIfNoneMatchAsync(server, "*"));
        }
    }

    [Fact]
    public async Task An_etag_from_before_an_append_no_longer_matches()
    {
        var (server, etag) = await StartWithStreamAsync();
        await using (server)
        {
            (await server.Client.PostAsync("/v1/durable/cached", new StringContent("{\"n\":2}", Encoding.UTF8, "application/json"))).Dispose();
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/durable/cached?offset=-1");
            request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue(etag));
            using var response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("[{\"n\":1},{\"n\":2}]", await response.Content.ReadAsStringAsync());
        }
    }
}
