// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @dev The two RoundsManager views the broker needs.
interface IRoundsManager {
    function currentRound() external view returns (uint256);
    function currentRoundInitialized() external view returns (bool);
    function blockHashForRound(uint256 _round) external view returns (bytes32);
}

/// @title Devnet probabilistic-micropayment broker for tollway.
/// @notice Function, struct and event names and argument orders follow Livepeer's TicketBroker so
/// that off-chain code works against either. Senders fund a deposit and a reserve; recipients
/// redeem winning tickets for their face value.
contract TicketBroker {
    struct Ticket {
        address recipient;
        address sender;
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        bytes auxData;
    }

    struct Sender {
        uint256 deposit;
        uint256 withdrawRound;
    }

    struct ReserveInfo {
        uint256 fundsRemaining;
        uint256 claimedInCurrentRound;
    }

    /// @notice A ticket may be redeemed while creationRound + ticketValidityPeriod > currentRound.
    uint256 public constant ticketValidityPeriod = 2;

    /// @dev secp256k1 order / 2: signatures with a larger s are malleable copies and are refused.
    uint256 private constant HALF_CURVE_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    IRoundsManager public immutable roundsManager;

    mapping(bytes32 => bool) public usedTickets;
    mapping(address => Sender) private senders;
    mapping(address => uint256) private reserveFunds;
    mapping(address => mapping(uint256 => uint256)) private reserveClaimedForRound;

    event DepositFunded(address indexed sender, uint256 amount);
    event ReserveFunded(address indexed reserveHolder, uint256 amount);
    event WinningTicketRedeemed(
        address indexed sender,
        address indexed recipient,
        uint256 faceValue,
        uint256 winProb,
        uint256 senderNonce,
        uint256 recipientRand,
        bytes auxData
    );
    event WinningTicketTransfer(address indexed sender, address indexed recipient, uint256 amount);

    constructor(address _roundsManager) {
        require(_roundsManager != address(0), "rounds manager is null address");
        roundsManager = IRoundsManager(_roundsManager);
    }

    // ---- funding -------------------------------------------------------------------------

    function fundDeposit() external payable {
        _addDeposit(msg.sender, msg.value);
    }

    function fundReserve() external payable {
        _addReserve(msg.sender, msg.value);
    }

    function fundDepositAndReserve(uint256 _depositAmount, uint256 _reserveAmount)
        external
        payable
    {
        require(
            msg.value == _depositAmount + _reserveAmount,
            "msg.value does not equal sum of deposit amount and reserve amount"
        );
        _addDeposit(msg.sender, _depositAmount);
        _addReserve(msg.sender, _reserveAmount);
    }

    function getSenderInfo(address _sender)
        external
        view
        returns (Sender memory sender, ReserveInfo memory reserve)
    {
        sender = senders[_sender];
        reserve = ReserveInfo({
            fundsRemaining: reserveFunds[_sender],
            claimedInCurrentRound: reserveClaimedForRound[_sender][roundsManager.currentRound()]
        });
    }

    // ---- tickets -------------------------------------------------------------------------

    /// @notice keccak256 of the tightly packed ticket fields (232 bytes with a 64-byte auxData).
    function getTicketHash(Ticket memory _ticket) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                _ticket.recipient,
                _ticket.sender,
                _ticket.faceValue,
                _ticket.winProb,
                _ticket.senderNonce,
                _ticket.recipientRandHash,
                _ticket.auxData
            )
        );
    }

    function redeemWinningTicket(Ticket memory _ticket, bytes memory _sig, uint256 _recipientRand)
        external
    {
        require(roundsManager.currentRoundInitialized(), "current round is not initialized");
        require(_ticket.recipient != address(0), "ticket recipient is null address");
        require(_ticket.sender != address(0), "ticket sender is null address");
        _requireValidAuxData(_ticket.auxData);
        require(
            keccak256(abi.encodePacked(_recipientRand)) == _ticket.recipientRandHash,
            "recipientRand does not match recipientRandHash"
        );

        bytes32 ticketHash = getTicketHash(_ticket);
        require(!usedTickets[ticketHash], "ticket is used");
        require(_signer(ticketHash, _sig) == _ticket.sender, "invalid signature over ticket hash");
        require(
            uint256(keccak256(abi.encodePacked(_sig, _recipientRand))) < _ticket.winProb,
            "ticket did not win"
        );
        require(
            senders[_ticket.sender].deposit > 0 || reserveFunds[_ticket.sender] > 0,
            "sender deposit and reserve are zero"
        );

        usedTickets[ticketHash] = true;
        uint256 amount = _claimFunds(_ticket.sender, _ticket.faceValue);

        emit WinningTicketRedeemed(
            _ticket.sender,
            _ticket.recipient,
            _ticket.faceValue,
            _ticket.winProb,
            _ticket.senderNonce,
            _recipientRand,
            _ticket.auxData
        );

        if (amount > 0) {
            emit WinningTicketTransfer(_ticket.sender, _ticket.recipient, amount);
            // Devnet simplification: Livepeer credits the amount as fees through the
            // BondingManager; here the recipient is paid in ETH directly (a later issue).
            (bool ok,) = payable(_ticket.recipient).call{value: amount}("");
            require(ok, "transfer to ticket recipient failed");
        }
    }

    // ---- internals -----------------------------------------------------------------------

    function _addDeposit(address _sender, uint256 _amount) private {
        senders[_sender].deposit += _amount;
        emit DepositFunded(_sender, _amount);
    }

    function _addReserve(address _sender, uint256 _amount) private {
        reserveFunds[_sender] += _amount;
        emit ReserveFunded(_sender, _amount);
    }

    /// @dev Takes up to `_faceValue` from the deposit first, then the remainder from the reserve.
    /// Devnet simplification: the whole reserve is available to any recipient; Livepeer splits it
    /// among the active orchestrators of the round (a later issue).
    function _claimFunds(address _sender, uint256 _faceValue) private returns (uint256) {
        Sender storage sender = senders[_sender];
        uint256 fromDeposit = _faceValue < sender.deposit ? _faceValue : sender.deposit;
        sender.deposit -= fromDeposit;

        uint256 shortfall = _faceValue - fromDeposit;
        uint256 available = reserveFunds[_sender];
        uint256 fromReserve = shortfall < available ? shortfall : available;
        if (fromReserve > 0) {
            reserveFunds[_sender] = available - fromReserve;
            reserveClaimedForRound[_sender][roundsManager.currentRound()] += fromReserve;
        }
        return fromDeposit + fromReserve;
    }

    /// @dev auxData = creationRound (32 bytes) ‖ the block hash RoundsManager stored for it.
    function _requireValidAuxData(bytes memory _auxData) private view {
        require(_auxData.length == 64, "invalid length for ticket auxData: must be 64 bytes");
        (uint256 creationRound, bytes32 creationRoundBlockHash) =
            abi.decode(_auxData, (uint256, bytes32));

        bytes32 storedHash = roundsManager.blockHashForRound(creationRound);
        require(storedHash != bytes32(0), "ticket creationRound does not have a block hash");
        require(
            creationRoundBlockHash == storedHash,
            "ticket creationRound blockHash invalid for creationRound"
        );
        // A stored hash means creationRound <= currentRound, so the sum cannot overflow.
        require(
            creationRound + ticketValidityPeriod > roundsManager.currentRound(),
            "ticket is expired"
        );
    }

    /// @dev The signer of an EIP-191 personal message over `_hash`, or the null address when the
    /// signature is malformed: not 65 bytes r ‖ s ‖ v, v not 27/28, or s in the upper half.
    function _signer(bytes32 _hash, bytes memory _sig) private pure returns (address) {
        if (_sig.length != 65) {
            return address(0);
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(_sig, 32))
            s := mload(add(_sig, 64))
            v := byte(0, mload(add(_sig, 96)))
        }
        if ((v != 27 && v != 28) || uint256(s) > HALF_CURVE_ORDER) {
            return address(0);
        }
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", _hash));
        return ecrecover(digest, v, r, s);
    }
}
