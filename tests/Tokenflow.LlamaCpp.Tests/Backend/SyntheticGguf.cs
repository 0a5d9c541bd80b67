using System.Text;

namespace Tokenflow.LlamaCpp.Tests.Backend;

/// <summary>
/// Writes a tiny llama-architecture GGUF whose next token is fixed: every token embeds to the same
/// vector, the attention and feed-forward outputs are zero, so the final hidden state is constant and
/// only the output row of the favoured token scores. Lets tests see exact behaviour (end-of-generation,
/// full context, chat templates) that a trained model only shows by chance.
/// </summary>
internal static class SyntheticGguf
{
    /// <summary>Token ids of the vocabulary: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, 256 bytes, then "a", "▁a".</summary>
    public const int Eos = 2;

    /// <summary>The id of the token "a".</summary>
    public const int LetterA = 3 + 256;

    public const int ContextLength = 128;

    private const int Dim = 32;
    private const int Heads = 2;
    private const int Ffn = 64;
    private const int Alignment = 32;

    /// <summary>Writes the model to a temporary file and returns its path.</summary>
    public static string Write(int favouredToken, string? chatTemplate = null)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        tokens.AddRange(Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"));
        tokens.Add("a");
        tokens.Add("\u2581a");
        var types = new List<int> { 2, 3, 3 };
        types.AddRange(Enumerable.Repeat(6, 256));
        types.AddRange([1, 1]);
        var vocab = tokens.Count;

        var metadata = new List<(string Key, Action<BinaryWriter> Value)>
        {
            ("general.architecture", w => Str(w, "llama")),
            ("general.name", w => Str(w, "synthetic")),
            ("general.alignment", w => U32(w, Alignment)),
            ("llama.context_length", w => U32(w, ContextLength)),
            ("llama.embedding_length", w => U32(w, Dim)),
            ("llama.block_count", w => U32(w, 1)),
            ("llama.feed_forward_length", w => U32(w, Ffn)),
            ("llama.attention.head_count", w => U32(w, Heads)),
            ("llama.attention.head_count_kv", w => U32(w, Heads)),
            ("llama.rope.dimension_count", w => U32(w, Dim / Heads)),
            ("llama.rope.freq_base", w => F32(w, 10000f)),
            ("llama.attention.layer_norm_rms_epsilon", w => F32(w, 1e-5f)),
            ("llama.vocab_size", w => U32(w, vocab)),
            ("tokenizer.ggml.model", w => Str(w, "llama")),
            ("tokenizer.ggml.tokens", w => { w.Write(9u); w.Write(8u); w.Write((ulong)vocab); tokens.ForEach(t => WriteString(w, t)); }),
            ("tokenizer.ggml.scores", w => { w.Write(9u); w.Write(6u); w.Write((ulong)vocab); tokens.ForEach(_ => w.Write(0f)); }),
            ("tokenizer.ggml.token_type", w => { w.Write(9u); w.Write(5u); w.Write((ulong)vocab); types.ForEach(w.Write); }),
            ("tokenizer.ggml.bos_token_id", w => U32(w, 1)),
            ("tokenizer.ggml.eos_token_id", w => U32(w, Eos)),
            ("tokenizer.ggml.unknown_token_id", w => U32(w, 0)),
            ("tokenizer.ggml.add_bos_token", w => { w.Write(7u); w.Write((byte)1); }),
            ("tokenizer.ggml.add_space_prefix", w => { w.Write(7u); w.Write((byte)1); }),
        };
        if (chatTemplate is not null)
        {
            metadata.Add(("tokenizer.chat_template", w => Str(w, chatTemplate)));
        }

        var random = new Random(1);
        float[] Fill(int count, Func<int, float> value) => [.. Enumerable.Range(0, count).Select(value)];
        float[] Small(int count) => Fill(count, _ => (float)(random.NextDouble() - 0.5) * 0.02f);
        var tensors = new List<(string Name, ulong[] Dims, float[] Data)>
        {
            ("token_embd.weight", [Dim, (ulong)vocab], Fill(Dim * vocab, _ => 1f)),
            ("blk.0.attn_norm.weight", [Dim], Fill(Dim, _ => 1f)),
            ("blk.0.attn_q.weight", [Dim, Dim], Small(Dim * Dim)),
            ("blk.0.attn_k.weight", [Dim, Dim], Small(Dim * Dim)),
            ("blk.0.attn_v.weight", [Dim, Dim], Small(Dim * Dim)),
            ("blk.0.attn_output.weight", [Dim, Dim], new float[Dim * Dim]),
            ("blk.0.ffn_norm.weight", [Dim], Fill(Dim, _ => 1f)),
            ("blk.0.ffn_gate.weight", [Dim, Ffn], Small(Dim * Ffn)),
            ("blk.0.ffn_up.weight", [Dim, Ffn], Small(Dim * Ffn)),
            ("blk.0.ffn_down.weight", [Ffn, Dim], new float[Dim * Ffn]),
            ("output_norm.weight", [Dim], Fill(Dim, _ => 1f)),
            ("output.weight", [Dim, (ulong)vocab], Fill(Dim * vocab, i => i / Dim == favouredToken ? 1f : 0f)),
        };

        var path = Path.Join(Path.GetTempPath(), $"tokenflow-synthetic-{Guid.NewGuid():N}.gguf");
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        writer.Write("GGUF"u8);
        writer.Write(3u);
        writer.Write((ulong)tensors.Count);
        writer.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(writer, key);
            value(writer);
        }

        ulong offset = 0;
        foreach (var (name, dims, data) in tensors)
        {
            WriteString(writer, name);
            writer.Write((uint)dims.Length);
            foreach (var d in dims)
            {
                writer.Write(d);
            }

            writer.Write(0u); // F32
            writer.Write(offset);
            offset += Padded((ulong)data.Length * 4);
        }

        Pad(writer);
        foreach (var (_, _, data) in tensors)
        {
            foreach (var value in data)
            {
                writer.Write(value);
            }

            Pad(writer);
        }

        return path;
    }

    private static void Str(BinaryWriter w, string value)
    {
        w.Write(8u);
        WriteString(w, value);
    }

    private static void U32(BinaryWriter w, int value)
    {
        w.Write(4u);
        w.Write((uint)value);
    }

    private static void F32(BinaryWriter w, float value)
    {
        w.Write(6u);
        w.Write(value);
    }

    private static void WriteString(BinaryWriter w, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static ulong Padded(ulong size) => (size + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w)
    {
        w.Flush();
        var position = (ulong)w.BaseStream.Position;
        w.Write(new byte[Padded(position) - position]);
    }
}
