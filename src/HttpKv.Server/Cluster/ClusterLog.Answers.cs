using Google.Protobuf;
using HttpKv.Protocol;

namespace HttpKv.Server.Cluster;

public sealed partial class ClusterLog
{
    /// <summary>Answers for waiters, given to the thread pool in groups: each group is one work item that completes
    /// its waiters in turn, their continuations (each request's response) running inline in it. An apply batch of n
    /// proposals so costs ⌈n / <see cref="PerWorkItem"/>⌉ hand-offs rather than n, while two groups can still
    /// answer on two cores. The loop and the ticker send answers this way; the one exception is an apply batch with a
    /// single answer (<see cref="SendOrRunAlone"/>).</summary>
    private struct Answers
    {
        /// <summary>Enough to spread a large batch over the cores, few enough that a group is one short burst.</summary>
        private const int PerWorkItem = 8;

        private Group? group;
        private bool sentAny;

        /// <summary>Adds an answer: the response message, or the exception the request failed with. The caller has
        /// taken <paramref name="waiter"/> out of the waiters, so it is answered once.</summary>
        public void Add(IWaiter waiter, object result)
        {
            group ??= new Group();
            group.Items.Add((waiter, result));
            if (group.Items.Count == PerWorkItem) Send();
        }

        /// <summary>Hands the gathered answers to the thread pool.</summary>
        public void Send()
        {
            if (group is null) return;
            ThreadPool.UnsafeQueueUserWorkItem(group, preferLocal: false);
            group = null;
            sentAny = true;
        }

        /// <summary><see cref="Send"/>, except that a lone answer to a client's request (the whole apply batch had
        /// one proposer here: a lightly loaded member) is completed on the calling thread, the loop's: its response
        /// then goes out without waiting for a thread-pool worker to wake (one client, three alternated pairs: put
        /// p50 0.59/0.53/0.41 -> 0.43/0.43/0.41 ms). A write's response is small and writing it never blocks (Kestrel
        /// buffers it), so the loop is held for microseconds; a batch of several answers still goes to the pool, so
        /// that the loop is not held for many, and so do the member's own proposers (<see cref="IWaiter.MayAnswerOnLoop"/>).</summary>
        public void SendOrRunAlone()
        {
            if (!sentAny && group is { Items.Count: 1 } alone && alone.Items[0].Waiter.MayAnswerOnLoop)
            {
                group = null;
                alone.Execute();
                return;
            }
            Send();
        }

        public static void Send(IWaiter waiter, object result)
        {
            var answers = new Answers();
            answers.Add(waiter, result);
            answers.Send();
        }

        private sealed class Group : IThreadPoolWorkItem
        {
            public readonly List<(IWaiter Waiter, object Result)> Items = new(PerWorkItem);

            public void Execute()
            {
                foreach (var (waiter, result) in Items) waiter.Complete(result);
            }
        }
    }
}
