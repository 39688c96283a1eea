using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using HttpKv.Api.Metrics;
using Prometheus;

namespace HttpKv.Api.Grpc;

/// <summary>Binds a gRPC service's methods as Grpc.AspNetCore's own provider does (the generated <c>BindService</c>,
/// each method's handler found on the service by name), with one difference: the methods of etcd's client services
/// get marshallers that count what they carry, under etcd's names — <c>grpc_server_msg_received_total</c> and
/// <c>grpc_server_msg_sent_total</c> by method (go-grpc-prometheus's, counted as each message is decoded or encoded:
/// a unary call's response is encoded only when it succeeded, as go-grpc-prometheus counts it only then), and
/// <c>etcd_network_client_grpc_received_bytes_total</c> / <c>_sent_bytes_total</c> (etcd's codec adds each message's
/// length). Counting in the marshaller costs no object per call, where an interceptor would need a continuation.
/// Member-to-member services keep the generated marshallers: etcd's peers do not speak gRPC, so none of this counts them.</summary>
internal sealed class MeteredServiceMethodProvider<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.All)] TService>
    : IServiceMethodProvider<TService> where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var bind = FindBindMethod(typeof(TService))
            ?? throw new InvalidOperationException($"{typeof(TService).Name} has no generated BindService method");
        var binder = new Binder(context, bind.GetParameters()[1].ParameterType);
        bind.Invoke(null, [binder, null]);
    }

    /// <summary>The generated <c>BindService(ServiceBinderBase, TBase)</c> named by <see cref="BindServiceMethodAttribute"/>
    /// on the service's generated base class.</summary>
    private static MethodInfo? FindBindMethod(Type service)
    {
        for (var type = service; type is not null; type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is { } attribute)
            {
                return attribute.BindType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                    .FirstOrDefault(method => method.Name == attribute.BindMethodName && method.GetParameters() is [var first, _]
                        && first.ParameterType == typeof(ServiceBinderBase));
            }
        }
        return null;
    }

    private sealed class Binder(ServiceMethodProviderContext<TService> context, Type declaringType) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<UnaryServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(ServerCallContext));
            context.AddUnaryMethod(GrpcMessageMetrics.Metered(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ClientStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext));
            context.AddClientStreamingMethod(GrpcMessageMetrics.Metered(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<ServerStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddServerStreamingMethod(GrpcMessageMetrics.Metered(method), metadata, invoker);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var (invoker, metadata) = Model<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext));
            context.AddDuplexStreamingMethod(GrpcMessageMetrics.Metered(method), metadata, invoker);
        }

        /// <summary>The service's override of the generated method (or the generated base's, which answers
        /// Unimplemented) as an open-instance delegate, and the endpoint metadata Grpc.AspNetCore gives it: the
        /// service's attributes, then the method's, then POST only (CORS preflight accepted).</summary>
        private (TDelegate Invoker, List<object> Metadata) Model<TDelegate>(string name, params Type[] parameters) where TDelegate : Delegate
        {
            var handler = Handler(name, parameters) ?? throw new InvalidOperationException($"{typeof(TService).Name} has no method {name}");
            var metadata = new List<object>();
            metadata.AddRange(typeof(TService).GetCustomAttributes(inherit: true));
            metadata.AddRange(handler.GetCustomAttributes(inherit: true));
            metadata.Add(new HttpMethodMetadata(["POST"], acceptCorsPreflight: true));
            return ((TDelegate)Delegate.CreateDelegate(typeof(TDelegate), handler), metadata);
        }

        /// <summary>The public instance method that overrides the generated base's virtual one (a method of the
        /// same name that hides it is passed over).</summary>
        private MethodInfo? Handler(string name, Type[] parameters)
        {
            for (var type = typeof(TService); type is not null; type = type.BaseType)
            {
                var method = type.GetMethod(name, BindingFlags.Public | BindingFlags.Instance, binder: null, parameters, modifiers: null);
                if (method is null) return null;
                if (method.IsVirtual && method.GetBaseDefinition().DeclaringType == declaringType) return method;
            }
            return null;
        }
    }
}

/// <summary>The message and byte counters of etcd's client gRPC services (see <see cref="MeteredServiceMethodProvider{TService}"/>).</summary>
internal static class GrpcMessageMetrics
{
    private static readonly Counter Received = Prometheus.Metrics.CreateCounter(
        "grpc_server_msg_received_total", "Total number of RPC stream messages received on the server.",
        new CounterConfiguration { LabelNames = RequestMetrics.GrpcMethodLabels });

    private static readonly Counter Sent = Prometheus.Metrics.CreateCounter(
        "grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.",
        new CounterConfiguration { LabelNames = RequestMetrics.GrpcMethodLabels });

    public static readonly Counter ReceivedBytes = Prometheus.Metrics.CreateCounter(
        "etcd_network_client_grpc_received_bytes_total", "The total number of bytes received from grpc clients.");

    public static readonly Counter SentBytes = Prometheus.Metrics.CreateCounter(
        "etcd_network_client_grpc_sent_bytes_total", "The total number of bytes sent to grpc clients.");

    /// <summary><paramref name="method"/> with counting marshallers when it is a client call of protobuf messages;
    /// otherwise itself.</summary>
    public static Method<TRequest, TResponse> Metered<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class where TResponse : class
    {
        if (!ClientCalls.IsClientCall(method.FullName) || !typeof(IMessage).IsAssignableFrom(typeof(TRequest))
            || !typeof(IMessage).IsAssignableFrom(typeof(TResponse))) return method;
        var labels = new[] { RequestMetrics.GrpcTypes[(int)method.Type], method.ServiceName, method.Name };
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name,
            Decoding(method.RequestMarshaller, Received.WithLabels(labels)), Encoding(method.ResponseMarshaller, Sent.WithLabels(labels)));
    }

    private static Marshaller<T> Decoding<T>(Marshaller<T> generated, Counter.Child messages) where T : class
    {
        var deserialize = generated.ContextualDeserializer;
        return new Marshaller<T>(generated.ContextualSerializer, context =>
        {
            var message = deserialize(context); // a message that fails to decode is not counted, as in go-grpc-prometheus
            messages.Inc();
            ReceivedBytes.Inc(context.PayloadLength);
            return message;
        });
    }

    /// <summary>Encodes as the generated marshaller does (the length first, then the message into the call's buffer),
    /// keeping the length it computes for the byte counter.</summary>
    private static Marshaller<T> Encoding<T>(Marshaller<T> generated, Counter.Child messages) where T : class =>
        new((value, context) =>
        {
            var message = (IMessage)value;
            var length = message.CalculateSize();
            context.SetPayloadLength(length);
            message.WriteTo(context.GetBufferWriter());
            context.Complete();
            messages.Inc();
            SentBytes.Inc(length);
        }, generated.ContextualDeserializer);
}
