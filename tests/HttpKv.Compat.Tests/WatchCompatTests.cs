using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace HttpKv.Compat.Tests;

/// <summary>Watch with unchanged clients (etcdctl, curl, python3-etcd3gw): the same output against HttpKv as against
/// the real etcd. A watching client runs until killed: it is started, the changes are made with other clients, it is
/// killed once it printed what is expected, and its output is compared.</summary>
public sealed class WatchCompatTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>A client process that runs until killed, its stdout collected.</summary>
    private sealed class Background : IDisposable
    {
        private readonly Process process;
        private readonly StringBuilder output = new();

        public Background(string fileName, params string[] arguments)
        {
            var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            start.Environment["ETCDCTL_API"] = "3";
            process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, line) =>
            {
                if (line.Data is not null) lock (output) output.Append(line.Data).Append('\n');
            };
            process.ErrorDataReceived += (_, _) => { };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Output
        {
            get
            {
                lock (output) return output.ToString();
            }
        }

        /// <summary>Waits (generously) until the output satisfies <paramref name="done"/>; returns the output.</summary>
        public async Task<string> WaitForAsync(Func<string, bool> done)
        {
            var stopwatch = Stopwatch.StartNew();
            while (!done(Output))
            {
                if (stopwatch.Elapsed > Deadline) throw new TimeoutException("the client printed only:\n" + Output);
                await Task.Delay(50);
            }
            return Output;
        }

        public void Dispose()
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
            process.Dispose();
        }
    }

    private static int Count(string text, string part) => (text.Length - text.Replace(part, "").Length) / part.Length;

    private static async Task<(T Etcd, T HttpKv)> BothAsync<T>(Func<ServerProcess, Task<T>> run)
    {
        await using var etcd = ServerProcess.Etcd();
        await using var httpKv = ServerProcess.HttpKv();
        await Task.WhenAll(etcd.StartAsync(), httpKv.StartAsync());
        return (await run(etcd), await run(httpKv));
    }

    private static async Task PutAsync(ServerProcess server, params string[] arguments)
    {
        var result = await Tool.EtcdctlAsync(server, null, arguments);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task Etcdctl_watch_receives_puts_made_by_another_etcdctl()
    {
        var (etcd, httpKv) = await BothAsync(async server =>
        {
            using var watch = new Background("etcdctl", "--endpoints", server.Endpoint, "watch", "foo");
            // The watch prints nothing when created: put a warm-up value until it shows, then drop those lines.
            for (var attempt = 0; !watch.Output.Contains("warm"); attempt++)
            {
                Assert.True(attempt < 60, "the watch never started: " + watch.Output);
                await PutAsync(server, "put", "foo", "warm");
                await Task.WhenAny(watch.WaitForAsync(output => output.Contains("warm")), Task.Delay(1000));
            }
            await PutAsync(server, "put", "foo", "bar");
            await PutAsync(server, "put", "other", "x");
            await PutAsync(server, "put", "foo", "baz");
            await PutAsync(server, "del", "foo");
            var output = await watch.WaitForAsync(text => text.Contains("DELETE"));
            return output.Replace("PUT\nfoo\nwarm\n", "");
        });
        Assert.StartsWith("PUT\nfoo\nbar\nPUT\nfoo\nbaz\nDELETE\nfoo\n", httpKv);
        Assert.Equal(etcd, httpKv);
    }

    [Fact]
    public async Task Etcdctl_watch_prefix_with_prev_kv_and_history_replay()
    {
        var (etcd, httpKv) = await BothAsync(async server =>
        {
            await PutAsync(server, "put", "a1", "old");  // 2
            await PutAsync(server, "put", "foo", "1");  // 3
            await PutAsync(server, "put", "foo", "2");  // 4
            await PutAsync(server, "del", "foo");       // 5
            using var history = new Background("etcdctl", "--endpoints", server.Endpoint, "watch", "--rev=1", "foo");
            using var prefix = new Background("etcdctl", "--endpoints", server.Endpoint, "watch", "--prefix", "a", "--prev-kv", "--rev=6");
            await PutAsync(server, "put", "a1", "new");  // 6
            await PutAsync(server, "put", "b", "skip");  // 7
            await PutAsync(server, "put", "a2", "x");    // 8
            await PutAsync(server, "del", "a1");         // 9
            var replayed = await history.WaitForAsync(text => text.Contains("DELETE"));
            var prefixed = await prefix.WaitForAsync(text => text.Contains("DELETE") && Count(text, "\n") >= 13);
            return (replayed, prefixed);
        });
        Assert.StartsWith("PUT\nfoo\n1\nPUT\nfoo\n2\nDELETE\nfoo\n", httpKv.replayed);
        Assert.Equal(etcd.replayed, httpKv.replayed);
        Assert.Equal(etcd.prefixed, httpKv.prefixed);
    }

    [Fact]
    public async Task Curl_on_the_gateway_watch_streams_what_etcd_streams()
    {
        // Raw lines, nothing masked (same identity flags: same ids): the created line, then the replayed put and
        // delete with their previous values, and a live put after them.
        var (etcd, httpKv) = await BothAsync(async server =>
        {
            await PutAsync(server, "put", "foo", "bar");
            await PutAsync(server, "del", "foo");
            using var curl = new Background("curl", "-N", "-s", "-X", "POST", server.Url + "/v3/watch",
                "-d", """{"create_request": {"key":"Zm9v","start_revision":"1","prev_kv":true}}""");
            await curl.WaitForAsync(text => text.Contains("DELETE"));
            await PutAsync(server, "put", "foo", "live");
            return await curl.WaitForAsync(text => text.Contains("bGl2ZQ==")); // "live"
        });
        Assert.Contains("\"type\":\"DELETE\"", httpKv);
        Assert.Equal(etcd, httpKv);
    }

    [Fact]
    public async Task Curl_on_the_gateway_election_observe_streams_what_etcd_streams()
    {
        // Raw lines, nothing masked: the leader's value when observed, then each proclaimed value.
        var (etcd, httpKv) = await BothAsync(async server =>
        {
            async Task PostAsync(string path, string body)
            {
                var result = await Tool.RunAsync("curl", ["-sS", "-f", "-X", "POST", "-d", body, server.Url + path]);
                Assert.True(result.ExitCode == 0, result.ToString());
            }
            await PostAsync("/v3/lease/grant", """{"TTL":"60","ID":"200"}""");
            await PostAsync("/v3/election/campaign", """{"name":"b2Jz","lease":"200","value":"djE="}"""); // "obs", "v1"
            using var curl = new Background("curl", "-N", "-s", "-X", "POST", server.Url + "/v3/election/observe", "-d", """{"name":"b2Jz"}""");
            await curl.WaitForAsync(text => text.Contains("djE="));
            await PostAsync("/v3/election/proclaim", """{"leader":{"name":"b2Jz","key":"b2JzL2M4","rev":"2","lease":"200"},"value":"djI="}""");
            return await curl.WaitForAsync(text => text.Contains("djI="));
        });
        Assert.StartsWith("{\"result\":{", httpKv);
        Assert.Equal(etcd, httpKv);
    }

    [Fact]
    public async Task Curl_on_the_gateway_watch_with_a_negative_start_revision_is_cancelled_as_compacted_as_etcd_cancels_it()
    {
        // etcd keeps a negative start revision: below its compacted revision (-1 before any compaction) the watch is
        // cancelled at once with that compact revision. Raw lines, nothing masked (same identity flags: same ids).
        var (etcd, httpKv) = await BothAsync(async server =>
        {
            async Task<string> WatchAsync(string startRevision)
            {
                using var curl = new Background("curl", "-N", "-s", "-X", "POST", server.Url + "/v3/watch",
                    "-d", $$$"""{"create_request": {"key":"Zm9v","start_revision":"{{{startRevision}}}"}}""");
                return await curl.WaitForAsync(text => text.Contains("\"canceled\":true"));
            }
            var fresh = await WatchAsync("-5");
            await PutAsync(server, "put", "foo", "1");
            await PutAsync(server, "put", "foo", "2");
            await PutAsync(server, "compact", "3");
            return fresh + await WatchAsync("-1");
        });
        Assert.Contains("\"compact_revision\":\"-1\"", etcd);
        Assert.Contains("\"compact_revision\":\"3\"", etcd);
        Assert.Equal(etcd, httpKv);
    }

    [Fact]
    public async Task Curl_on_the_sse_route_streams_changes_and_resumes_after_last_event_id()
    {
        await using var server = ServerProcess.HttpKv();
        await server.StartAsync();
        await PutAsync(server, "put", "foo", "bar"); // 2
        await PutAsync(server, "put", "foo", "baz"); // 3
        await PutAsync(server, "del", "foo");        // 4
        string first;
        using (var curl = new Background("curl", "-N", "-s", server.Url + "/v3/watch/sse?key=foo&start_revision=1"))
        {
            first = await curl.WaitForAsync(text => text.Contains("event: delete"));
        }
        Assert.Contains("event: put\nid: 2\ndata: {", first);
        Assert.Contains("event: put\nid: 3\n", first);
        Assert.Contains("event: delete\nid: 4\n", first);
        using var resumed = new Background("curl", "-N", "-s", "-H", "Last-Event-ID: 2", server.Url + "/v3/watch/sse?key=foo&start_revision=1");
        await resumed.WaitForAsync(text => text.Contains("id: 3"));
        await PutAsync(server, "put", "foo", "live"); // 5
        var output = await resumed.WaitForAsync(text => text.Contains("id: 5"));
        Assert.DoesNotContain("id: 2", output);
        Assert.Equal(["3", "4", "5"], output.Split('\n').Where(line => line.StartsWith("id: ")).Select(line => line[4..]));
        Assert.Contains(Convert.ToBase64String("live"u8.ToArray()), output);
    }

    [Fact]
    public async Task Python_etcd3gw_watch_over_the_json_gateway()
    {
        const string script = """
            import os, sys
            from etcd3gw.client import Etcd3Client
            kwargs = {'api_path': sys.argv[2]} if len(sys.argv) > 2 else {}
            c = Etcd3Client(host='127.0.0.1', port=int(sys.argv[1]), **kwargs)
            c.put('/w/a', 'zero')
            events, cancel = c.watch('/w/a')
            c.put('/w/a', 'one')
            c.delete('/w/a')
            for _, e in zip(range(2), events):
                print(e['kv']['key'], e['kv'].get('value'), e.get('type', 'PUT'), e['kv']['mod_revision'])
            cancel()
            events, cancel = c.watch('/w/a', start_revision=2)
            for _, e in zip(range(3), events):
                print(e['kv']['key'], e['kv'].get('value'), e.get('type', 'PUT'), e['kv']['mod_revision'])
            cancel()
            sys.stdout.flush()
            os._exit(0)
            """;
        await EtcdOracle.AssertPythonSameAsEtcdAsync(script, "/v3beta/");
    }
}
