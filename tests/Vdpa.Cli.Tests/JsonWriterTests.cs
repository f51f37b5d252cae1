namespace Uvdpa.Vdpa.Cli.Tests;

/// <summary>Layout and escaping of <see cref="JsonWriter"/> against iproute2's lib/json_writer.c.</summary>
public sealed class JsonWriterTests
{
    private static string Write(bool pretty, Action<JsonWriter> body)
    {
        var sw = new StringWriter();
        var w = new JsonWriter(sw, pretty);
        body(w);
        Assert.Equal(0, w.Depth);
        w.Finish();
        return sw.ToString();
    }

    private static void Sample(JsonWriter w)
    {
        w.StartObject();
        w.Name("dev");
        w.StartObject();
        w.Name("a0");
        w.StartObject();
        w.StringField("type", "network");
        w.UIntField("max_vqs", 3);
        w.BoolField("flag", false);
        w.Name("list");
        w.StartArray();
        w.String("A");
        w.UInt(26);
        w.EndArray();
        w.Name("empty");
        w.StartArray();
        w.EndArray();
        w.Name("nothing");
        w.StartObject();
        w.EndObject();
        w.Name("n");
        w.Null();
        w.EndObject();
        w.EndObject();
        w.EndObject();
    }

    [Fact]
    public void Compact_layout()
    {
        Assert.Equal(
            "{\"dev\":{\"a0\":{\"type\":\"network\",\"max_vqs\":3,\"flag\":false,\"list\":[\"A\",26],\"empty\":[],\"nothing\":{},\"n\":null}}}\n",
            Write(false, Sample));
    }

    [Fact]
    public void Pretty_layout_indents_members_and_keeps_arrays_inline()
    {
        Assert.Equal(
            "{\n    \"dev\": {\n        \"a0\": {\n            \"type\": \"network\",\n            \"max_vqs\": 3,\n            \"flag\": false,\n" +
            "            \"list\": [ \"A\",26 ],\n            \"empty\": [ ],\n            \"nothing\": {},\n            \"n\": null\n        }\n    }\n}\n",
            Write(true, Sample));
    }

    [Fact]
    public void Empty_sections()
    {
        Assert.Equal("{\"dev\":{}}\n", Write(false, w => { w.StartObject(); w.Name("dev"); w.StartObject(); w.EndObject(); w.EndObject(); }));
        Assert.Equal("{\n    \"dev\": {}\n}\n", Write(true, w => { w.StartObject(); w.Name("dev"); w.StartObject(); w.EndObject(); w.EndObject(); }));
    }

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("q\"b\\", "\"q\\\"b\\\\\"")]
    [InlineData("\t\n\r\f\b", "\"\\t\\n\\r\\f\\b\"")]
    [InlineData("\u0001\u001f\u007f", "\"\\u0001\\u001f\\u007f\"")]
    [InlineData("/ é ü", "\"/ é ü\"")]
    public void Strings_are_escaped_like_jsonw_puts(string value, string json)
    {
        Assert.Equal(json + "\n", Write(false, w => w.String(value)));
    }

    [Fact]
    public void Names_are_escaped_too()
    {
        Assert.Equal("{\"a b\\\"\":1}\n", Write(false, w => { w.StartObject(); w.UIntField("a b\"", 1); w.EndObject(); }));
    }
}
