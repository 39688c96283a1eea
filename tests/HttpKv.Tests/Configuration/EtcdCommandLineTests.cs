using HttpKv.Configuration;

namespace HttpKv.Tests.Configuration;

public sealed class EtcdCommandLineTests
{
    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();

    private static EtcdCommandLineResult Parse(params string[] args) => EtcdCommandLine.Parse(args, NoEnvironment);

    public static TheoryData<string[]> EverySpellingOfDataDir => new()
    {
        new[] { "--data-dir", "/var/lib/kv" },
        new[] { "--data-dir=/var/lib/kv" },
        new[] { "-data-dir", "/var/lib/kv" },
        new[] { "-data-dir=/var/lib/kv" },
    };

    [Theory]
    [MemberData(nameof(EverySpellingOfDataDir))]
    public void One_or_two_dashes_with_space_or_equals_all_set_the_flag(string[] args)
    {
        var result = Parse(args);

        Assert.Empty(result.Errors);
        Assert.Equal("/var/lib/kv", result.Settings["HttpKv:DataDir"]);
    }

    [Fact]
    public void A_value_may_start_with_a_dash_or_contain_equals()
    {
        var result = Parse("--name", "-odd", "--initial-cluster", "a=http://127.0.0.1:2380,b=http://127.0.0.2:2380");

        Assert.Empty(result.Errors);
        Assert.Equal("-odd", result.Settings["HttpKv:Name"]);
        Assert.Equal("a=http://127.0.0.1:2380,b=http://127.0.0.2:2380", result.Settings["HttpKv:InitialCluster"]);
    }

    [Fact]
    public void Implemented_flags_map_to_HttpKv_PascalCase_keys()
    {
        var result = Parse(
            "--listen-client-urls", "http://127.0.0.1:2379",
            "--max-request-bytes=2097152",
            "--auto-compaction-retention", "1h",
            "--heartbeat-interval", "50");

        Assert.Equal("http://127.0.0.1:2379", result.Settings["HttpKv:ListenClientUrls"]);
        Assert.Equal("2097152", result.Settings["HttpKv:MaxRequestBytes"]);
        Assert.Equal("1h", result.Settings["HttpKv:AutoCompactionRetention"]);
        Assert.Equal("50", result.Settings["HttpKv:HeartbeatInterval"]);
    }

    [Fact]
    public void The_last_occurrence_of_a_flag_wins()
    {
        var result = Parse("--name", "first", "--name", "second");

        Assert.Equal("second", result.Settings["HttpKv:Name"]);
    }

    [Theory]
    [InlineData(new[] { "--enable-grpc-gateway" }, "true")]
    [InlineData(new[] { "-enable-grpc-gateway" }, "true")]
    [InlineData(new[] { "--enable-grpc-gateway=false" }, "false")]
    [InlineData(new[] { "--enable-grpc-gateway=0" }, "false")]
    [InlineData(new[] { "--enable-grpc-gateway=F" }, "false")]
    [InlineData(new[] { "--enable-grpc-gateway=TRUE" }, "true")]
    [InlineData(new[] { "--enable-grpc-gateway=t" }, "true")]
    public void Booleans_follow_Go_ParseBool(string[] args, string expected)
    {
        var result = Parse(args);

        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Settings["HttpKv:EnableGrpcGateway"]);
    }

    [Fact]
    public void A_bare_boolean_does_not_consume_the_next_argument()
    {
        var result = Parse("--enable-grpc-gateway", "--name", "n1");

        Assert.Empty(result.Errors);
        Assert.Equal("true", result.Settings["HttpKv:EnableGrpcGateway"]);
        Assert.Equal("n1", result.Settings["HttpKv:Name"]);
    }

    [Fact]
    public void A_bare_boolean_followed_by_a_word_leaves_the_word_as_an_invalid_flag()
    {
        // etcd 3.4.23: `etcd --client-cert-auth false` → "'false' is not a valid flag".
        var result = Parse("--enable-grpc-gateway", "false");

        Assert.Equal(["'false' is not a valid flag"], result.Errors);
    }

    [Theory]
    [InlineData("--experimental-memory-mlock")]
    [InlineData("--enable-pprof")]
    [InlineData("-experimental-memory-mlock=false")]
    public void Unimplemented_bare_booleans_are_accepted_with_a_warning(string argument)
    {
        var result = Parse(argument, "--name", "n1");

        Assert.Empty(result.Errors);
        var name = argument.TrimStart('-').Split('=')[0];
        Assert.Equal(
            [$"flag --{name} is accepted for compatibility with etcd but not implemented by HttpKv yet; ignored"],
            result.Warnings);
        Assert.Equal("n1", result.Settings["HttpKv:Name"]);
        Assert.DoesNotContain(result.Settings.Keys, key => key.Contains("Experimental", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_flag_is_an_error_in_etcds_words()
    {
        // etcd 3.4.23: `etcd -foo` prints "flag provided but not defined: -foo".
        Assert.Equal(["flag provided but not defined: -foo"], Parse("-foo").Errors);
        Assert.Equal(["flag provided but not defined: -foo"], Parse("--foo=1").Errors);
    }

    [Fact]
    public void Flags_only_in_etcd_3_6_are_unknown()
    {
        Assert.Equal(["flag provided but not defined: -feature-gates"], Parse("--feature-gates=A=true").Errors);
    }

    [Theory]
    [InlineData("--snapshot-count=abc", "-snapshot-count")]
    [InlineData("--max-txn-ops=-1", "-max-txn-ops")]
    [InlineData("--quota-backend-bytes=1e9", "-quota-backend-bytes")]
    [InlineData("--grpc-keepalive-min-time=5", "-grpc-keepalive-min-time")]
    [InlineData("--listen-client-urls=localhost:2379", "-listen-client-urls")]
    [InlineData("--initial-cluster-state=old", "-initial-cluster-state")]
    [InlineData("--client-cert-auth=maybe", "-client-cert-auth")]
    public void A_bad_typed_value_is_an_error_naming_the_flag(string argument, string named)
    {
        var result = Parse(argument);

        var error = Assert.Single(result.Errors);
        Assert.Contains(named + ":", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_value_messages_match_etcd()
    {
        // etcd 3.4.23: `etcd --snapshot-count=abc` → invalid value "abc" for flag -snapshot-count: parse error
        Assert.StartsWith("invalid value \"abc\" for flag -snapshot-count: parse error", Parse("--snapshot-count=abc").Errors[0], StringComparison.Ordinal);
        // etcd 3.4.23: `etcd --client-cert-auth=maybe` → invalid boolean value "maybe" for -client-cert-auth: parse error
        Assert.Equal(["invalid boolean value \"maybe\" for -client-cert-auth: parse error"], Parse("--client-cert-auth=maybe").Errors);
        // etcd 3.4.23: `etcd --snapshot-count` → flag needs an argument: -snapshot-count
        Assert.Equal(["flag needs an argument: -snapshot-count"], Parse("--snapshot-count").Errors);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("100ms")]
    [InlineData("1.5h")]
    [InlineData("2h45m")]
    [InlineData("-3s")]
    public void Go_durations_are_accepted(string duration)
    {
        Assert.Empty(Parse("--grpc-keepalive-min-time", duration).Errors);
    }

    [Theory]
    [InlineData("0x10")]
    [InlineData("1_000")]
    public void Go_integer_literals_with_prefixes_and_underscores_are_accepted(string value)
    {
        // Go's flag package parses uints with strconv.ParseUint(s, 0, 64), which takes 0x prefixes and '_'
        // separators; etcd 3.4.23 starts with `--max-txn-ops=1_000`.
        Assert.Empty(Parse("--max-txn-ops", value).Errors);
    }

    [Fact]
    public void A_positional_argument_is_an_error_in_etcds_words()
    {
        // etcd 3.4.23: `etcd positional` → error verifying flags, 'positional' is not a valid flag.
        Assert.Equal(["'positional' is not a valid flag"], Parse("positional").Errors);
        Assert.Equal(["'x' is not a valid flag"], Parse("--name", "n", "--", "x").Errors);
    }

    [Theory]
    [InlineData("--help", true, false)]
    [InlineData("-help", true, false)]
    [InlineData("-h", true, false)]
    [InlineData("--h", true, false)]
    [InlineData("--version", false, true)]
    [InlineData("-version", false, true)]
    [InlineData("--version=false", false, false)]
    public void Help_and_version_are_reported_as_flags(string argument, bool help, bool version)
    {
        var result = Parse(argument);

        Assert.Empty(result.Errors);
        Assert.Equal(help, result.ShowHelp);
        Assert.Equal(version, result.ShowVersion);
        Assert.Empty(result.Settings);
    }

    [Fact]
    public void Environment_sets_flags_not_given_on_the_command_line()
    {
        var environment = new Dictionary<string, string?>
        {
            ["ETCD_DATA_DIR"] = "/from/etcd-env",
            ["ETCD_NAME"] = "env-name",
            ["HTTPKV_MAX_TXN_OPS"] = "512",
        };

        var result = EtcdCommandLine.Parse(["--name", "cli-name"], environment);

        Assert.Empty(result.Errors);
        Assert.Equal("cli-name", result.Settings["HttpKv:Name"]);
        Assert.Equal("/from/etcd-env", result.Settings["HttpKv:DataDir"]);
        Assert.Equal("512", result.Settings["HttpKv:MaxTxnOps"]);
    }

    [Fact]
    public void HTTPKV_alias_wins_over_ETCD_variable()
    {
        var environment = new Dictionary<string, string?>
        {
            ["ETCD_DATA_DIR"] = "/etcd",
            ["HTTPKV_DATA_DIR"] = "/httpkv",
        };

        var result = EtcdCommandLine.Parse([], environment);

        Assert.Equal("/httpkv", result.Settings["HttpKv:DataDir"]);
    }

    [Fact]
    public void Only_given_values_are_emitted_so_appsettings_and_defaults_stay_below()
    {
        var result = EtcdCommandLine.Parse([], new Dictionary<string, string?> { ["PATH"] = "/bin" });

        Assert.Empty(result.Settings);
        Assert.Empty(result.Warnings);
        Assert.Empty(result.Errors);
    }

    [Fact]
    public void An_unknown_ETCD_variable_is_warned_about_as_etcd_does()
    {
        // etcd 3.4.23 with ETCD_BOGUS_THING=1: "pkg/flags: unrecognized environment variable ETCD_BOGUS_THING=1".
        var environment = new Dictionary<string, string?> { ["ETCD_BOGUS_THING"] = "1", ["HTTPKV_OTHER"] = "x" };

        var result = EtcdCommandLine.Parse([], environment);

        Assert.Empty(result.Errors);
        Assert.Equal(["unrecognized environment variable ETCD_BOGUS_THING=1"], result.Warnings);
    }

    [Fact]
    public void A_bad_environment_value_is_an_error_naming_the_variable()
    {
        // etcd 3.4.23 with ETCD_SNAPSHOT_COUNT=abc: invalid value "abc" for ETCD_SNAPSHOT_COUNT: parse error
        var environment = new Dictionary<string, string?> { ["ETCD_SNAPSHOT_COUNT"] = "abc" };

        var result = EtcdCommandLine.Parse([], environment);

        var error = Assert.Single(result.Errors);
        Assert.StartsWith("invalid value \"abc\" for ETCD_SNAPSHOT_COUNT: parse error", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unimplemented_flag_from_the_environment_is_warned_about()
    {
        var environment = new Dictionary<string, string?> { ["ETCD_EXPERIMENTAL_MEMORY_MLOCK"] = "true" };

        var result = EtcdCommandLine.Parse([], environment);

        Assert.Equal(
            ["flag --experimental-memory-mlock is accepted for compatibility with etcd but not implemented by HttpKv yet; ignored"],
            result.Warnings);
        Assert.Empty(result.Settings);
    }

    [Fact]
    public void ETCD_VERSION_cannot_turn_on_version()
    {
        var environment = new Dictionary<string, string?> { ["ETCD_VERSION"] = "true" };

        var result = EtcdCommandLine.Parse([], environment);

        Assert.False(result.ShowVersion);
        Assert.Equal(["cannot set special environment variable ETCD_VERSION=true"], result.Warnings);
    }
}
